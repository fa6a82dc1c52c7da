// The ternary weight of any Bit layer, whatever its kind and whether it is deployed: what the
// exporters (safetensors, TorchScript) write in place of the layer's packed buffers.
//
// Example:
//   for (const auto& item : model.named_modules()) {
//     if (dynamic_cast<const bitlab::BitLayer*>(item.value().get()) == nullptr) continue;
//     const bitlab::TernaryWeight w = bitlab::ternary_weight(*item.value(), item.key(),
//     "my_export"); at::Tensor w_hat =
//     bitlab::dequantize_weight(w.values.reshape({w.values.size(0), -1}), w.scale);
//   }
#ifndef BITLAB_EXPORT_TERNARY_WEIGHTS_H_
#define BITLAB_EXPORT_TERNARY_WEIGHTS_H_

#include <string>

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include "bitcore/quant_config.h"

namespace bitlab {

/// A Bit layer's ternary weight, as its kernels compute with it.
struct TernaryWeight {
  /// int8 in {-1, 0, 1}, in the shape of the float layer's weight ([out, in] for BitLinear,
  /// [out, in / groups, *kernel] for BitConv, [num_embeddings, dim] for BitEmbedding).
  at::Tensor values;
  /// float32 [1] (per tensor) or [out] (per channel).
  at::Tensor scale;
  /// float32 [out], or undefined when the layer has no bias.
  at::Tensor bias;
  /// The layer's quantization (activations included).
  BitQuantConfig config;
};

/// The ternary weight of the Bit layer `layer` (BitLinear, BitConv1d/2d/3d or BitEmbedding) at
/// `path` in its model: a deployed layer's unpacked `qweight` and `qweight_scale`, a trainable
/// one's latent weight quantized exactly as its own packing does. CPU tensors. Throws
/// BitLabError starting with `caller` and naming `path` for a Bit layer of another kind, one
/// holding tensors besides weight, bias, qweight and qweight_scale (which an export would lose
/// silently), or one whose tensors have the wrong shape.
TernaryWeight ternary_weight(const torch::nn::Module& layer, const std::string& path,
                             const std::string& caller);

}  // namespace bitlab

#endif  // BITLAB_EXPORT_TERNARY_WEIGHTS_H_
