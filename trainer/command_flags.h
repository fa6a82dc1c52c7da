// What the training commands (//trainer:train, //trainer/lm:train_lm) do alike with their
// flags: paths relative to the user's directory, JSON given inline or in a --config file, and
// the default run directory.
//
// Example:
//   nlohmann::json json = bitlab::trainer::config_flag_json(working_dir, "recipe.json");
//   std::string dir = bitlab::trainer::run_directory(working_dir, "", "mlp");  // runs/mlp-<time>
#ifndef BITLAB_TRAINER_COMMAND_FLAGS_H_
#define BITLAB_TRAINER_COMMAND_FLAGS_H_

#include <string>

#include <nlohmann/json.hpp>

namespace bitlab {
namespace trainer {

/// `path` relative to `working_dir` ("" : the process's directory); absolute paths and ""
/// stay as they are.
std::string resolve_user_path(const std::string& working_dir, const std::string& path);

/// The JSON object in the --config file `path` (resolved), or {} when `path` is empty. Throws
/// ConfigError naming --config when it cannot be read or does not hold an object.
nlohmann::json config_flag_json(const std::string& working_dir, const std::string& path);

/// `text` parsed as JSON; a ConfigError naming `flag` when it is not valid.
nlohmann::json parse_json_flag(const std::string& flag, const std::string& text);

/// `output_dir` resolved, or, when empty, `runs/<name>-<local time>` under working_dir.
std::string run_directory(const std::string& working_dir, const std::string& output_dir,
                          const std::string& name);

}  // namespace trainer
}  // namespace bitlab

#endif  // BITLAB_TRAINER_COMMAND_FLAGS_H_
