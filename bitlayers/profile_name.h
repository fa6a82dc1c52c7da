// The name under which a Bit layer's forward appears to profilers (at::RecordFunction: torch's
// profiler, `bitlab benchmark --per_layer`): the layer, its shape and the kernel that runs it,
// so a profile says at a glance which layers run which kernel.
//
// Example (in a layer's forward; the name is only built while a profiler listens):
//   RECORD_USER_SCOPE_WITH_INPUTS(
//       bitlab::bit_layer_profile_name("BitLinear", "512->256", config, is_training()),
//       std::vector<c10::IValue>{input});
#ifndef BITLAB_BITLAYERS_PROFILE_NAME_H_
#define BITLAB_BITLAYERS_PROFILE_NAME_H_

#include <string>

#include "bitcore/quant_config.h"

namespace bitlab {

/// "<kind> <shape> [<kernel>]": the kernel the registry picks for `config` on this machine,
/// or "fake quantization" while `training`.
std::string bit_layer_profile_name(const std::string& kind, const std::string& shape,
                                   const BitQuantConfig& config, bool training);

}  // namespace bitlab

#endif  // BITLAB_BITLAYERS_PROFILE_NAME_H_
