// The graphs of the zoo's architectures for the ONNX exporter: each function mirrors one
// model's forward() with OnnxLayers and standard operators, reaching its layers by their
// registered names (which the converter keeps when it swaps a layer for its Bit version).
// Not API: export/onnx_export.h is.
//
// Example:
//   const bitlab::internal::ArchitectureGraph graph =
//       bitlab::internal::architecture_graph(*model, {1, 1, 28, 28}, layers);
#ifndef BITLAB_EXPORT_ONNX_ARCHITECTURES_H_
#define BITLAB_EXPORT_ONNX_ARCHITECTURES_H_

#include <cstdint>
#include <string>
#include <vector>

#include <torch/nn/module.h>

#include "export/onnx_layers.h"

namespace bitlab {
namespace internal {

/// What architecture_graph built: the graph's input and output (declared already) and a
/// description for the model's metadata.
struct ArchitectureGraph {
  std::string architecture;
  std::vector<int64_t> output_shape;  // batch as -1
};

/// Adds `model`'s graph for inputs of `input_shape` (batch first) to `layers`' graph, with the
/// input "input" (float32 images or features) or "ids" (int64 token ids) and the output
/// "logits". Throws ShapeError when the model does not take `input_shape`, BitLabError when
/// the model is not an architecture or layer export knows.
ArchitectureGraph architecture_graph(const torch::nn::Module& model,
                                     const std::vector<int64_t>& input_shape, OnnxLayers& layers);

}  // namespace internal
}  // namespace bitlab

#endif  // BITLAB_EXPORT_ONNX_ARCHITECTURES_H_
