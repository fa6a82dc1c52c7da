// TorchScript export of BitLab's vision models and the MLP: a torch::jit::Module assembled in
// C++ that Python's `torch.jit.load` (and libtorch's torch::jit::load) runs without BitLab.
//
// The module is built, not traced: its parameters are registered one by one (register_parameter,
// flat names after the layer's path, e.g. `layer1_0_conv1_weight`) and its `forward` is
// TorchScript source generated from the architecture and `define`d on it. TorchScript knows
// nothing of packed weights, so a Bit layer's weight is written dequantized into its two
// factors: `<layer>_weight`, float32 with the ternary values {-1, 0, 1}, and
// `<layer>_weight_scale` (one scale, or one per output channel), so `weight * weight_scale` (the
// scale broadcast along dim 0) is the float weight. A layer with int8 activations quantizes
// them in the script as the numerics contract does (absmax scale, round half to even, clamp to
// [-127, 127]) and multiplies by the integer values; float32 sums of such integer products are
// exact for any K up to 2^24 / 127, so the script's outputs equal the deployed kernels' up to
// the float rounding of the layers around them, and its int8 rescale runs in the contract's
// order ((acc * s_x) * g) + b. Float layers (Linear, Conv2d, BatchNorm2d, pooling, ReLU) become
// their aten ops with the module's eval-mode behaviour: the export is for inference.
//
// Supported: the zoo's "mlp", "lenet5", ResNets ("resnet18", "resnet20", "resnet34",
// "resnet50") and "mobilenet_v2", trainable (eval mode) or deployed, with their Bit layers in
// any quantization config. Anything else is a BitLabError naming the module that is not.
//
// Example:
//   auto model = bitlab::AutoBitModel::from_pretrained("lenet5-fmnist");
//   bitlab::to_torchscript(*model, "/out/lenet5.pt");
//   // Python: m = torch.jit.load("/out/lenet5.pt"); logits = m(images)
#ifndef BITLAB_EXPORT_TORCHSCRIPT_EXPORT_H_
#define BITLAB_EXPORT_TORCHSCRIPT_EXPORT_H_

#include <string>

#include <torch/csrc/jit/api/module.h>
#include <torch/nn/module.h>

namespace bitlab {

/// The TorchScript module computing `model`'s eval-mode forward (see the file comment). Throws
/// BitLabError naming the first module, or option (e.g. a padding mode), it cannot express.
torch::jit::Module build_torchscript(const torch::nn::Module& model);

/// Writes build_torchscript(model) to `path` as a TorchScript archive (torch.jit.save's format),
/// atomically. Throws BitLabError naming the file when it cannot be written.
void to_torchscript(const torch::nn::Module& model, const std::string& path);

}  // namespace bitlab

#endif  // BITLAB_EXPORT_TORCHSCRIPT_EXPORT_H_
