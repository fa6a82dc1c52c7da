// OnnxLayers: standard ONNX operators (opset 17) for one layer each, the pieces the ONNX
// exporter assembles architectures from: Linear / BitLinear, Conv2d / BitConv2d, BatchNorm2d,
// LayerNorm, BitRMSNorm and Embedding / BitEmbedding. Not API: export/onnx_export.h is.
//
// Numerics of the Bit layers (the design seam; docs/numerics.md is the contract). ONNX's own
// dynamic quantization, DynamicQuantizeLinear, is asymmetric uint8 with a zero point chosen
// from min and max, which is not BitLab's arithmetic: BitLab quantizes activations
// symmetrically to [-127, 127] with s = max(absmax, eps) / 127, one scale per tensor or per
// token (per sample for convolutions). So the graph spells the contract out with standard
// operators, in the contract's order:
//   c = Max(ReduceMax(Abs(x)), eps);  r = 127 / c;  s = c / 127
//   q = Clip(Round(x * r), -127, 127)                  (ONNX Round is half to even, as BitLab)
// and then, by mode:
//   kInt8:  acc = MatMulInteger(Cast<int8>(q), q_w^T as an int8 initializer)       (exact)
//           y = Cast<float>(acc) * s * g + b, one operation at a time, as BitLab's kernels
//           Convolutions use ConvInteger on q + 128 as uint8 with zero point 128 and the
//           weights as q_w + 1 in uint8 with zero point 1: the same exact integer sums (the
//           zero points are subtracted before multiplying, and padding takes the zero point,
//           i.e. 0), but onnxruntime (up to at least 1.17) implements ConvInteger for
//           uint8 x uint8 only, while MatMulInteger runs int8 x int8.
//   kFloat: acc = MatMul / Conv(q, q_w as a float32 initializer), the same integer sums,
//           exact in float32 (below 2^24), then y = acc * s * g + b as above: plain float
//           operators that every runtime has, computing BitLab's deployed numerics.
//           Why not the dequantized weight g * q_w as one float initializer: (q * s) times
//           (g * q_w) rounds differently from acc * s * g, and in a deep network a difference in
//           the last bit ahead of a quantizer sometimes rounds an activation to the next
//           integer; ResNet-18 exported that way differed from BitLab by 8e-3 (relative to
//           its largest logit) instead of 7e-7. Whoever wants the dequantized float weights
//           has export_float_safetensors.
// Layers with float32 activations ("af32_*") skip the quantization: y = (x matmul q_w) * g + b,
// q_w a float32 initializer (kFloat) or the int8 one cast to float (kInt8). The files of kInt8
// hold 1 byte a weight, those of kFloat 4.
//
// Example:
//   bitlab::internal::OnnxLayers layers(graph, bitlab::OnnxMode::kInt8);
//   std::string y = layers.linear(*model->named_modules()["fc1"], "fc1", x);
#ifndef BITLAB_EXPORT_ONNX_LAYERS_H_
#define BITLAB_EXPORT_ONNX_LAYERS_H_

#include <cstdint>
#include <string>
#include <vector>

#include <torch/nn/module.h>

#include "bitcore/quant_config.h"
#include "export/onnx_export.h"
#include "export/onnx_graph.h"

namespace bitlab {
namespace internal {

class OnnxLayers {
 public:
  /// Builds into `graph` (which must outlive this object) in `mode`.
  OnnxLayers(OnnxGraph& graph, OnnxMode mode) : graph_(graph), mode_(mode) {}

  /// torch::nn::Linear or BitLinear: x [..., K] -> [..., N].
  std::string linear(const torch::nn::Module& module, const std::string& path,
                     const std::string& x);
  /// torch::nn::Conv2d or BitConv2d with zero padding: x [B, C, H, W] -> [B, O, H', W'].
  std::string conv2d(const torch::nn::Module& module, const std::string& path,
                     const std::string& x);
  /// torch::nn::BatchNorm2d with running statistics, as in eval mode.
  std::string batch_norm2d(const torch::nn::Module& module, const std::string& path,
                           const std::string& x);
  /// torch::nn::LayerNorm over the last dimension.
  std::string layer_norm(const torch::nn::Module& module, const std::string& path,
                         const std::string& x);
  /// BitRMSNorm: x * 1 / sqrt(mean(x^2, -1) + eps) * weight.
  std::string rms_norm(const torch::nn::Module& module, const std::string& path,
                       const std::string& x);
  /// torch::nn::Embedding or BitEmbedding: int64 ids [...] -> [..., dim].
  std::string embedding(const torch::nn::Module& module, const std::string& path,
                        const std::string& ids);

  OnnxGraph& graph() { return graph_; }
  OnnxMode mode() const { return mode_; }

 private:
  struct Quantized {
    std::string q;      // float32 integer values in [-127, 127]
    std::string scale;  // float32 s, broadcastable against the layer's output
  };
  // The contract's activation quantization of x; `token_axes` are the axes one per-token
  // ("per_channel") scale covers.
  Quantized quantize(const std::string& x, const std::string& path, const BitQuantConfig& config,
                     const std::vector<int64_t>& token_axes);

  OnnxGraph& graph_;
  OnnxMode mode_;
};

/// Throws BitLabError: the layer at `path` (module `module_name`) is not one export_onnx
/// knows; `expected` says what it wanted there.
[[noreturn]] void unsupported_layer(const std::string& path, const std::string& module_name,
                                    const std::string& expected);

}  // namespace internal
}  // namespace bitlab

#endif  // BITLAB_EXPORT_ONNX_LAYERS_H_
