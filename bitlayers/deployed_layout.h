// The tensors a deployed layer registers: the float weight stays registered but empty (so a
// deployed state dict has the same keys as a trainable one), and the bias becomes a buffer,
// since nothing trains it any more. BitLinear and BitConv share this.
//
// libtorch has no unregister_parameter; a layer passes the table it keeps its parameters in
// (torch::nn::Module::parameters_, protected) so the bias can move to the buffers.
#ifndef BITLAB_BITLAYERS_DEPLOYED_LAYOUT_H_
#define BITLAB_BITLAYERS_DEPLOYED_LAYOUT_H_

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/ordered_dict.h>

#include "bitcore/quant_config.h"

namespace bitlab {
namespace internal {

using ParameterTable = torch::OrderedDict<std::string, torch::Tensor>;

/// Moves `bias` (data kept, requires_grad off) from `parameters` into `module`'s buffers. Does
/// nothing when it is a buffer already, so it may run after every state-dict load.
inline void move_bias_to_buffers(torch::nn::Module& module, ParameterTable& parameters,
                                 torch::Tensor& bias) {
  if (!parameters.contains("bias")) return;
  parameters.erase("bias");
  bias = module.register_buffer("bias", bias.defined() ? bias.detach() : torch::Tensor());
}

/// How many weight scales a deployed layer with `rows` output rows keeps: one per row for
/// per-channel weight quantization, else one.
inline int64_t deployed_scale_count(const BitQuantConfig& config, int64_t rows) {
  return config.weight_granularity == Granularity::kPerChannel ? rows : 1;
}

/// Registers the tensors of a deployed layer, uninitialized: the empty float weight, `qweight`
/// (uint8, [out, packed_columns] for Bit layers), `qweight_scale` ([scales]) and the bias
/// buffer ([bias_size], or undefined when bias_size is 0): for a layer born deployed in a
/// skeleton (deployed_skeleton.h).
inline void register_deployed_layout(torch::nn::Module& module, torch::Tensor& weight,
                                     torch::Tensor& bias, torch::Tensor& qweight,
                                     torch::Tensor& qweight_scale,
                                     const std::vector<int64_t>& qweight_shape, int64_t scales,
                                     int64_t bias_size) {
  weight = module.register_parameter("weight", torch::empty({0}), /*requires_grad=*/false);
  qweight = module.register_buffer("qweight", torch::empty(qweight_shape, torch::kByte));
  qweight_scale = module.register_buffer("qweight_scale", torch::empty({scales}));
  // Last, where deploy() moves it, so state dicts list the tensors in the same order.
  bias =
      module.register_buffer("bias", bias_size > 0 ? torch::empty({bias_size}) : torch::Tensor());
}

/// The layout torch::nn::Cloneable::clone() needs in the copy it resets: the tensors of a
/// deployed layer in the shapes of the original's, which the copy still holds and clone() then
/// fills.
inline void register_deployed_layout_like(torch::nn::Module& module, torch::Tensor& weight,
                                          torch::Tensor& bias, torch::Tensor& qweight,
                                          torch::Tensor& qweight_scale) {
  register_deployed_layout(module, weight, bias, qweight, qweight_scale, qweight.sizes().vec(),
                           qweight_scale.numel(), bias.defined() ? bias.numel() : 0);
}

}  // namespace internal
}  // namespace bitlab

#endif  // BITLAB_BITLAYERS_DEPLOYED_LAYOUT_H_
