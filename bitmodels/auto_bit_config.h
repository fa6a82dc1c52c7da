// AutoBitConfig: the JSON config every BitLab model is built from (config.json beside saved
// weights), validated field by field.
//
// {
//   "model_type": "resnet18",              // a ModelRegistry name
//   "quant_config": "ai8pc_wpt",           // compact string, or BitQuantConfig's JSON object
//   "precision": "ternary",                // or "float32": the same architecture unconverted,
//                                          // the baseline a ternary model is compared with
//   "keep_float": ["^conv1$", "^fc$"],     // optional: regexes of layers kept in float32;
//                                          // absent = the architecture's default_rules()
//   "architecture": {"num_classes": 10, "stem": "small", "in_channels": 1},
//   "image_input": {"channels": 1, "height": 28, "width": 28, "mean": [0.286],
//                   "std": [0.353], "labels": ["T-shirt/top", ...]},   // optional
//   "tokenizer": "byte"                    // optional: "byte" (ByteTokenizer)
// }
//
// Example:
//   bitlab::AutoBitConfig config = bitlab::AutoBitConfig::from_file("model/config.json");
//   config.architecture["num_classes"] = 10;
//   auto model = bitlab::AutoBitModel::from_config(config);
#ifndef BITLAB_BITMODELS_AUTO_BIT_CONFIG_H_
#define BITLAB_BITMODELS_AUTO_BIT_CONFIG_H_

#include <cstdint>
#include <string>
#include <vector>

#include <c10/util/Optional.h>
#include <nlohmann/json.hpp>

#include "bitcore/quant_config.h"

namespace bitlab {

/// What an image model expects, for bitzoo::Pipeline: decoded images are converted to
/// `channels` (1: gray, 3: RGB), resized to height x width, scaled to [0, 1], then normalized
/// per channel with mean and std.
struct ImageInput {
  int64_t channels = 3;
  int64_t height = 224;
  int64_t width = 224;
  /// One value per channel.
  std::vector<double> mean = {0.485, 0.456, 0.406};
  std::vector<double> std = {0.229, 0.224, 0.225};
  /// Class names, index = class id; empty: "class <i>".
  std::vector<std::string> labels;
};

struct AutoBitConfig {
  std::string model_type;
  BitQuantConfig quant_config;
  /// "ternary" (converted with BitConverter) or "float32" (left as built).
  std::string precision = "ternary";
  /// Regexes of module paths kept in float32; nullopt: the architecture's default_rules().
  c10::optional<std::vector<std::string>> keep_float;
  /// The architecture's own fields (its builder reads and validates them).
  nlohmann::json architecture = nlohmann::json::object();
  c10::optional<ImageInput> image_input;
  /// "" or "byte".
  std::string tokenizer;

  /// Validates every field; errors are ConfigError naming `context` (e.g. the file) and the
  /// field.
  static AutoBitConfig from_json(const nlohmann::json& json, const std::string& context = "config");
  /// Reads and validates a config.json; errors name the file.
  static AutoBitConfig from_file(const std::string& path);
  nlohmann::json to_json() const;
};

}  // namespace bitlab

#endif  // BITLAB_BITMODELS_AUTO_BIT_CONFIG_H_
