#include "bitlayers/profile_name.h"

#include "absl/strings/str_cat.h"
#include "bitcore/kernel_registry.h"

namespace bitlab {

std::string bit_layer_profile_name(const std::string& kind, const std::string& shape,
                                   const BitQuantConfig& config, bool training) {
  return absl::StrCat(
      kind, " ", shape, " [",
      training ? "fake quantization" : KernelRegistry::get_kernel_for_config(config).name(), "]");
}

}  // namespace bitlab
