#include "trainer/command_flags.h"

#include <ctime>

#include "absl/strings/str_cat.h"
#include "bitmodels/config_fields.h"
#include "bitmodels/json_file.h"

namespace bitlab {
namespace trainer {

std::string resolve_user_path(const std::string& working_dir, const std::string& path) {
  if (path.empty() || path[0] == '/' || working_dir.empty()) return path;
  return working_dir + "/" + path;
}

nlohmann::json config_flag_json(const std::string& working_dir, const std::string& path) {
  if (path.empty()) return nlohmann::json::object();
  nlohmann::json json = read_json_file(resolve_user_path(working_dir, path), "--config");
  if (!json.is_object()) throw ConfigError("--config: the file must hold a JSON object");
  return json;
}

nlohmann::json parse_json_flag(const std::string& flag, const std::string& text) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw ConfigError(absl::StrCat(flag, ": not valid JSON: ", e.what()));
  }
}

std::string run_directory(const std::string& working_dir, const std::string& output_dir,
                          const std::string& name) {
  if (!output_dir.empty()) return resolve_user_path(working_dir, output_dir);
  const std::time_t now = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", std::localtime(&now));
  return resolve_user_path(working_dir.empty() ? "." : working_dir,
                           absl::StrCat("runs/", name, "-", stamp));
}

}  // namespace trainer
}  // namespace bitlab
