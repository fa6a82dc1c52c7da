// The tensors a deployed layer registers: the float weight stays registered but empty (so a
// deployed state dict has the same keys as a trainable one), and the bias becomes a buffer,
// since nothing trains it any more. BitLinear and BitConv share this.
//
// libtorch has no unregister_parameter; a layer passes the table it keeps its parameters in
// (torch::nn::Module::parameters_, protected) so the bias can move to the buffers.
#ifndef BITLAB_BITLAYERS_DEPLOYED_LAYOUT_H_
#define BITLAB_BITLAYERS_DEPLOYED_LAYOUT_H_

#include <string>

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/ordered_dict.h>

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

/// The layout torch::nn::Cloneable::clone() needs in the copy it resets: the deployed
/// registrations, with tensors of the original's shapes that clone() then fills.
inline void register_deployed_layout(torch::nn::Module& module, torch::Tensor& weight,
                                     torch::Tensor& bias, torch::Tensor& qweight,
                                     torch::Tensor& qweight_scale) {
  weight = module.register_parameter("weight", torch::empty({0}), /*requires_grad=*/false);
  bias = module.register_buffer("bias", bias.defined() ? torch::empty_like(bias) : torch::Tensor());
  qweight = module.register_buffer("qweight", torch::empty_like(qweight));
  qweight_scale = module.register_buffer("qweight_scale", torch::empty_like(qweight_scale));
}

}  // namespace internal
}  // namespace bitlab

#endif  // BITLAB_BITLAYERS_DEPLOYED_LAYOUT_H_
