// Reading a JSON file with errors that name it: what configs, manifests and the train command
// share.
//
// Example:
//   nlohmann::json json = bitlab::read_json_file("model/config.json", "config");
#ifndef BITLAB_BITMODELS_JSON_FILE_H_
#define BITLAB_BITMODELS_JSON_FILE_H_

#include <string>

#include <nlohmann/json.hpp>

namespace bitlab {

/// The JSON in `path`; `what` names the file's role in messages ("config", "manifest").
/// Throws ConfigError (bitmodels/config_fields.h) naming the file when it cannot be opened or
/// is not valid JSON.
nlohmann::json read_json_file(const std::string& path, const std::string& what);

}  // namespace bitlab

#endif  // BITLAB_BITMODELS_JSON_FILE_H_
