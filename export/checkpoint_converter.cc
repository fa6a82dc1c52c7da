#include "export/checkpoint_converter.h"

#include <exception>

#include <c10/util/Exception.h>
#include <torch/serialize/input-archive.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "bitcore/errors.h"
#include "bitmodels/auto_bit_model.h"
#include "bitmodels/config_fields.h"
#include "export/safetensors_export.h"

namespace bitlab {
namespace {

void load_libtorch_archive(BitModel& model, const std::string& path) {
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(path);
    model.load(archive);
  } catch (const c10::Error& e) {
    // libtorch's message names the tensor it missed but not the file.
    throw BitLabError(absl::StrCat("convert_checkpoint: ", path, ": not a libtorch archive of a ",
                                   model.config.model_type,
                                   " model: ", e.what_without_backtrace()));
  }
}

}  // namespace

ConvertedCheckpoint convert_checkpoint(const std::string& checkpoint, const AutoBitConfig& config) {
  if (config.precision != "ternary") {
    throw ConfigError(absl::StrCat("convert_checkpoint: the config's precision is '",
                                   config.precision, "'; converting makes a \"ternary\" model"));
  }
  AutoBitConfig float_config = config;
  float_config.precision = "float32";
  ConvertedCheckpoint converted;
  converted.model = AutoBitModel::from_config(float_config);
  if (absl::EndsWith(checkpoint, ".safetensors")) {
    import_float_safetensors(*converted.model, checkpoint);
  } else if (absl::EndsWith(checkpoint, ".pt")) {
    load_libtorch_archive(*converted.model, checkpoint);
  } else {
    throw BitLabError(absl::StrCat("convert_checkpoint: ", checkpoint,
                                   ": expected a .safetensors file or a libtorch archive (.pt)"));
  }
  converted.report = AutoBitModel::convert_to_ternary(*converted.model, config);
  converted.model->eval();
  return converted;
}

}  // namespace bitlab
