#include "bitmodels/json_file.h"

#include <fstream>

#include "absl/strings/str_cat.h"
#include "bitmodels/config_fields.h"

namespace bitlab {

nlohmann::json read_json_file(const std::string& path, const std::string& what) {
  std::ifstream file(path);
  if (!file) throw ConfigError(absl::StrCat("cannot open ", what, " file ", path));
  try {
    return nlohmann::json::parse(file);
  } catch (const nlohmann::json::parse_error& e) {
    throw ConfigError(absl::StrCat(path, ": not valid JSON: ", e.what()));
  }
}

}  // namespace bitlab
