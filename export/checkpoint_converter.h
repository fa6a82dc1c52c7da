// Turning a trained float32 checkpoint into a ternary BitLab model: what `bitlab convert` runs.
// The checkpoint holds weights only; the architecture comes from an AutoBitConfig (model_type
// and its fields), so any zoo architecture trained in float elsewhere can be brought in.
//
// Example:
//   bitlab::AutoBitConfig config = bitlab::AutoBitConfig::from_json(
//       {{"model_type", "resnet18"}, {"quant_config", "ai8pc_wpt"}});
//   bitlab::ConvertedCheckpoint converted =
//       bitlab::convert_checkpoint("/in/resnet18.safetensors", config);
//   std::cout << converted.report.to_string();
//   bitlab::AutoBitModel::save_pretrained(*converted.model, "/out/resnet18-ternary");
#ifndef BITLAB_EXPORT_CHECKPOINT_CONVERTER_H_
#define BITLAB_EXPORT_CHECKPOINT_CONVERTER_H_

#include <memory>
#include <string>

#include "bitlayers/converter.h"
#include "bitmodels/auto_bit_config.h"
#include "bitmodels/bit_model.h"

namespace bitlab {

/// A float32 checkpoint made ternary, and what the converter did to each layer.
struct ConvertedCheckpoint {
  /// In eval mode, trainable (fine-tune it, or deploy it with quantize_for_deployment).
  std::shared_ptr<BitModel> model;
  ConversionReport report;
};

/// Builds config's architecture in float32, loads `checkpoint` into it and converts it per
/// config (AutoBitModel::convert_to_ternary: config.quant_config, config.keep_float or the
/// architecture's default rules). The checkpoint is
///   - a .safetensors file with torch's state-dict names (what Python's
///     `safetensors.torch.save_file(model.state_dict(), path)` writes for the same
///     architecture, or `bitlab export`), every tensor checked by name, shape and dtype; or
///   - a libtorch archive (.pt) written by torch::save of the float32 model.
/// Errors name the file and, where one is at fault, the tensor. Throws ConfigError for a config
/// whose precision is not "ternary".
ConvertedCheckpoint convert_checkpoint(const std::string& checkpoint, const AutoBitConfig& config);

}  // namespace bitlab

#endif  // BITLAB_EXPORT_CHECKPOINT_CONVERTER_H_
