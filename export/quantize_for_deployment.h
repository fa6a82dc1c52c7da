// quantize_for_deployment: the last step before shipping a trained model. Deploys every Bit
// layer in a module tree (packed ternary weights and scales kept, float weights freed; see
// BitLayer::deploy) and reports what that did to the memory the tree holds.
//
// Example:
//   std::shared_ptr<bitlab::BitModel> model = bitlab::AutoBitModel::from_pretrained("run/model");
//   bitlab::DeploymentReport report = bitlab::quantize_for_deployment(*model);
//   std::cout << report.to_string();   // "deployed 20 Bit layers: 42.7 MiB -> 2.8 MiB (15.4x)"
#ifndef BITLAB_EXPORT_QUANTIZE_FOR_DEPLOYMENT_H_
#define BITLAB_EXPORT_QUANTIZE_FOR_DEPLOYMENT_H_

#include <cstdint>
#include <string>

#include <torch/nn/module.h>

#include "bitlayers/memory_report.h"

namespace bitlab {

struct DeploymentReport {
  /// Bit layers this call deployed (those deployed before are not counted again).
  int64_t layers_deployed = 0;
  /// Bytes of every parameter and buffer the tree held before and after (a tensor shared by
  /// two modules counts once).
  int64_t bytes_before = 0;
  int64_t bytes_after = 0;
  /// Layer by layer, after deployment.
  MemoryReport layers;

  /// bytes_before / bytes_after; 1 when nothing is held.
  double ratio() const;
  /// One line: the layers deployed and the bytes before and after.
  std::string to_string() const;
};

/// Deploys every Bit layer under `module` (irreversible) and reports the memory it held
/// before and holds now.
DeploymentReport quantize_for_deployment(torch::nn::Module& module);

/// Bytes of the parameters and buffers `module` and its descendants hold, each storage once.
int64_t held_bytes(const torch::nn::Module& module);

}  // namespace bitlab

#endif  // BITLAB_EXPORT_QUANTIZE_FOR_DEPLOYMENT_H_
