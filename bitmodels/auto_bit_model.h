// AutoBitModel: the front door to BitLab's models. Builds any registered architecture from a
// config, converts float models, saves models as directories and loads them back, by name,
// directory or file.
//
// A saved model is a directory:
//   config.json        the AutoBitConfig
//   model.safetensors  the weights (see model_weights.h), trainable or deployed
//   README.md          the model card
//   manifest.json      every file above with its size and SHA-256, written last
//
// Example:
//   auto config = bitlab::AutoBitConfig::from_json(
//       {{"model_type", "lenet5"}, {"quant_config", "ai8pc_wpt"}});
//   std::shared_ptr<bitlab::BitModel> model = bitlab::AutoBitModel::from_config(config);
//   ... train ...
//   bitlab::AutoBitModel::save_pretrained(*model, "/out/lenet5");
//   auto same = bitlab::AutoBitModel::from_pretrained("/out/lenet5");   // in eval mode
//   auto zoo = bitlab::AutoBitModel::from_pretrained("resnet18-fmnist");  // through the cache
#ifndef BITLAB_BITMODELS_AUTO_BIT_MODEL_H_
#define BITLAB_BITMODELS_AUTO_BIT_MODEL_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <torch/nn/module.h>

#include "bitcore/quant_config.h"
#include "bitlayers/converter.h"
#include "bitmodels/auto_bit_config.h"
#include "bitmodels/bit_model.h"

namespace bitlab {

/// What save_pretrained records beside the weights (the model card and the manifest).
struct SaveOptions {
  /// The model's name; the directory's name when empty.
  std::string name;
  std::string training_recipe;
  std::string dataset;
  std::map<std::string, double> metrics;
  std::string speed;
  /// Markdown sections for the card, after its table (see ModelCard::notes).
  std::string notes;
};

class AutoBitModel {
 public:
  /// Builds config.model_type from the registry with config.architecture's fields (an unknown
  /// type or field is a ConfigError naming it), then, for precision "ternary", converts it with
  /// BitConverter per config.quant_config, keeping in float32 what config.keep_float names (or
  /// the architecture's default_rules()). The model is in training mode; `report`, when given,
  /// receives the conversion report.
  static std::shared_ptr<BitModel> from_config(const AutoBitConfig& config,
                                               ConversionReport* report = nullptr);
  /// The conversion from_config runs for precision "ternary", on a model built in float32
  /// (typically with trained weights loaded since): converts it in place per
  /// config.quant_config, keeping in float32 what config.keep_float names (or the
  /// architecture's default_rules()), and sets model.config to `config`. Throws BitLabError
  /// unless config.precision is "ternary" and the model's is "float32".
  static ConversionReport convert_to_ternary(BitModel& model, const AutoBitConfig& config);
  /// The same from a config.json file.
  static std::shared_ptr<BitModel> from_config_file(const std::string& path);

  /// Loads a saved model, in eval mode, from
  ///   - a directory written by save_pretrained (its manifest is verified first),
  ///   - a weights file (.safetensors) with config.json beside it, or
  ///   - the name of a PretrainedRegistry entry (the zoo's), through the cache.
  /// Errors name the file and, for weights, the tensor (missing, unexpected, wrong shape).
  static std::shared_ptr<BitModel> from_pretrained(const std::string& name_or_path);

  /// Converts any float model in place through BitConverter (see converter.h for which
  /// parents can have their children swapped) and returns the report.
  static ConversionReport from_pytorch(torch::nn::Module& module, const BitQuantConfig& config,
                                       const std::vector<ConversionRule>& rules = {});

  /// Writes `model` (trainable or deployed) as a directory (see the file comment), creating
  /// it if needed; each file is written atomically and the manifest last.
  static void save_pretrained(const BitModel& model, const std::string& dir,
                              const SaveOptions& options = {});
};

}  // namespace bitlab

#endif  // BITLAB_BITMODELS_AUTO_BIT_MODEL_H_
