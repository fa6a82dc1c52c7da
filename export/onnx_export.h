// ONNX export of BitLab models through Debian's libonnx: the zoo's MLP, LeNet-5, ResNets
// (18/20/34/50), Vision Transformers (vit_tiny, vit_small) and GPT (logits for a whole token
// sequence, no KV cache), or a single Linear / BitLinear / Conv2d / BitConv2d layer, as an
// opset-17 model that onnx::checker accepts and onnxruntime runs.
//
// The graph computes what the model computes in eval mode (BatchNorm running statistics,
// deployed Bit layers), with standard operators only; its Bit layers reproduce BitLab's own
// numerics (export/onnx_layers.h explains how), in one of two modes:
//   kFloat  ternary weights as float32 initializers (their scales apart), activation
//           quantization (int8 configs) as float Round / Clip, then plain MatMul / Conv and
//           the rescale: runs on any ONNX runtime, 4 bytes a weight.
//   kInt8   ternary weights as int8 (uint8 for ConvInteger) initializers, 1 byte a weight;
//           MatMulInteger / ConvInteger. Same integer sums, same rescale: the two modes give
//           the same outputs.
// Both match BitLab's deployed output up to float rounding in the layers that are not
// ternary, which a quantizer downstream occasionally turns into a flipped rounding (see
// onnx_layers.h); measured with onnxruntime 1.17: below 1e-6 relative for the zoo's MLP,
// LeNet-5, ResNet-18 and GPT, 4e-4 for the trained vit-tiny-fmnist.
// Layers kept in float32 (classifier heads, stems, norms, attention, embeddings) are exported
// as they are. The batch dimension is symbolic ("batch"); every other dimension is that of
// options.input_shape (or the model's example_input), since GPT's causal mask and positions
// are constants of the sequence length.
//
// The file is written atomically (temporary file, fsync, rename) after onnx::checker accepted
// the model. Errors are BitLabError naming the layer or file: a layer or architecture export
// does not know, an input shape the model does not take (ShapeError), an opset other than 17,
// a path that cannot be written.
//
// Example:
//   auto model = bitlab::AutoBitModel::from_config(bitlab::AutoBitConfig::from_json(
//       {{"model_type", "lenet5"}, {"quant_config", "ai8pc_wpt"}}));
//   bitlab::deploy_bit_layers(*model);
//   bitlab::OnnxExportOptions options;
//   options.mode = bitlab::OnnxMode::kInt8;
//   bitlab::export_onnx(*model, "/out/lenet5-int8.onnx", options);
#ifndef BITLAB_EXPORT_ONNX_EXPORT_H_
#define BITLAB_EXPORT_ONNX_EXPORT_H_

#include <cstdint>
#include <string>
#include <vector>

#include <torch/nn/module.h>

#include "onnx/onnx_pb.h"

namespace bitlab {

/// How Bit layers are written; see the file comment.
enum class OnnxMode { kFloat, kInt8 };

/// "float" / "int8".
const char* to_string(OnnxMode mode);
/// Parses "float" or "int8"; anything else throws BitLabError listing both.
OnnxMode onnx_mode_from_string(const std::string& name);

struct OnnxExportOptions {
  OnnxMode mode = OnnxMode::kFloat;
  /// The input's shape, batch first: [B, C, H, W] images, [B, T] token ids (GPT), [B, ...,
  /// in_features] for a single Linear layer. Empty: the shape of the model's
  /// example_input(1) (BitModels only). The batch dimension is exported as symbolic.
  std::vector<int64_t> input_shape;
  /// The ONNX operator set; 17 is the one this exporter writes (LayerNormalization, ReduceMax
  /// with an axes attribute).
  int64_t opset = 17;
};

/// The checked ONNX model of `model` (see the file comment), without writing it.
onnx::ModelProto build_onnx_model(const torch::nn::Module& model,
                                  const OnnxExportOptions& options = {});

/// build_onnx_model(model, options), serialized to `path` atomically.
void export_onnx(const torch::nn::Module& model, const std::string& path,
                 const OnnxExportOptions& options = {});

}  // namespace bitlab

#endif  // BITLAB_EXPORT_ONNX_EXPORT_H_
