#include "export/quantize_for_deployment.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bitlayers/bit_layer.h"
#include "bitlayers/converter.h"

namespace bitlab {

int64_t held_bytes(const torch::nn::Module& module) {
  std::set<const void*> seen;
  int64_t bytes = 0;
  const auto add = [&](const at::Tensor& tensor) {
    if (!tensor.defined() || tensor.numel() == 0) return;
    if (seen.insert(tensor.storage().data()).second) bytes += tensor.storage().nbytes();
  };
  for (const at::Tensor& parameter : module.parameters()) add(parameter);
  for (const at::Tensor& buffer : module.buffers()) add(buffer);
  return bytes;
}

double DeploymentReport::ratio() const {
  return bytes_after > 0 ? static_cast<double>(bytes_before) / bytes_after : 1.0;
}

std::string DeploymentReport::to_string() const {
  return absl::StrCat("deployed ", layers_deployed, " Bit layer", layers_deployed == 1 ? "" : "s",
                      ": ", format_bytes(bytes_before), " -> ", format_bytes(bytes_after), " (",
                      absl::StrFormat("%.1fx", ratio()), " smaller)");
}

DeploymentReport quantize_for_deployment(torch::nn::Module& module) {
  DeploymentReport report;
  report.bytes_before = held_bytes(module);
  for (const auto& child : module.modules(/*include_self=*/true)) {
    const auto* bit = dynamic_cast<const BitLayer*>(child.get());
    if (bit != nullptr && !bit->is_deployed()) ++report.layers_deployed;
  }
  deploy_bit_layers(module);
  report.bytes_after = held_bytes(module);
  report.layers = memory_report(module);
  return report;
}

}  // namespace bitlab
