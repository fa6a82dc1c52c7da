// What the exporters need of one Bit layer (BitLinear, BitConv1d/2d/3d, BitEmbedding), whatever
// its kind and whether it is deployed: its config, bias and ternary weight with scale, read the
// way the layer itself computes with them. Shared by the safetensors and ONNX exporters so
// both write exactly the weights BitLab runs.
//
// Example:
//   const bitlab::internal::BitLayerTensors layer =
//       bitlab::internal::bit_layer_tensors(module, "blocks.0.attn.q", "export_onnx");
//   bitlab::QuantizedTensor q = bitlab::internal::ternary_weight(layer, "blocks.0.attn.q",
//                                                                "export_onnx");
//   // q.values: int8 [out, prod(rest of weight_shape)] in {-1, 0, 1}; q.scale: [1] or [out]
#ifndef BITLAB_EXPORT_BIT_LAYER_TENSORS_H_
#define BITLAB_EXPORT_BIT_LAYER_TENSORS_H_

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include "bitcore/quant_config.h"
#include "bitcore/quantization.h"

namespace bitlab {
namespace internal {

struct BitLayerTensors {
  std::vector<int64_t> weight_shape;  // the float layer's weight shape
  BitQuantConfig config;
  bool deployed = false;
  at::Tensor weight;   // latent float weight (trainable)
  at::Tensor qweight;  // canonical t2 [out, ceil(K/4)] (deployed)
  at::Tensor qweight_scale;
  at::Tensor bias;  // undefined (or empty) without bias
};

/// The tensors of the Bit layer `module` at `path`. Throws BitLabError, prefixed by `caller`
/// and naming the path, for a Bit layer of a kind it does not know or one holding tensors
/// besides weight, bias, qweight and qweight_scale.
BitLayerTensors bit_layer_tensors(const torch::nn::Module& module, const std::string& path,
                                  const std::string& caller);

/// The ternary values (int8 [out, K], K the product of weight_shape after the first) and the
/// scale ([1] or [out]) the layer computes with, as CPU tensors: the unpacked `qweight` and
/// `qweight_scale` of a deployed layer, or its latent weight quantized as the layer packs it
/// (bitlinear::prepare_weights on the weight as [out, K]); both give the same values. Throws
/// ShapeError naming the path when the tensors do not have the expected shapes.
QuantizedTensor ternary_weight(const BitLayerTensors& layer, const std::string& path,
                               const std::string& caller);

}  // namespace internal
}  // namespace bitlab

#endif  // BITLAB_EXPORT_BIT_LAYER_TENSORS_H_
