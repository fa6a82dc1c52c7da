// OnnxGraph: a small builder over libonnx's onnx::GraphProto for the ONNX exporter. It names
// values uniquely, writes tensors as initializers with raw_data (little-endian, as ONNX
// requires and as the x86 and ARM hosts BitLab runs on store them), and keeps one initializer
// per distinct scalar constant. Not API: export/onnx_export.h is.
//
// Example:
//   onnx::ModelProto model;
//   bitlab::internal::OnnxGraph graph(model.mutable_graph());
//   const std::string w = graph.initializer("fc.weight_t", weight.t());
//   const std::string y = graph.add("MatMul", {x, w}, "fc");
//   graph.add("Relu", {y}, "relu", {}, /*output=*/"logits");
#ifndef BITLAB_EXPORT_ONNX_GRAPH_H_
#define BITLAB_EXPORT_ONNX_GRAPH_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "onnx/onnx_pb.h"

namespace bitlab {
namespace internal {

/// One attribute of a node.
struct OnnxAttribute {
  static OnnxAttribute integer(const std::string& name, int64_t value);
  static OnnxAttribute real(const std::string& name, float value);
  static OnnxAttribute integers(const std::string& name, const std::vector<int64_t>& values);

  std::string name;
  onnx::AttributeProto::AttributeType type = onnx::AttributeProto::INT;
  int64_t i = 0;
  float f = 0.0f;
  std::vector<int64_t> ints;
};

class OnnxGraph {
 public:
  /// Builds into `graph`, which must outlive this object.
  explicit OnnxGraph(onnx::GraphProto* graph);

  /// Adds a CPU copy of `tensor` (float32, int64, int32, int8, uint8 or bool) as an
  /// initializer; returns its unique name, derived from `hint`.
  std::string initializer(const std::string& hint, const at::Tensor& tensor);
  /// A float32 scalar (rank 0) initializer, shared by every use of the same value.
  std::string scalar(float value);
  /// A uint8 scalar initializer (zero points), shared likewise.
  std::string scalar_u8(uint8_t value);
  /// A 1-D int64 initializer (shapes, axes, indices).
  std::string int64s(const std::string& hint, const std::vector<int64_t>& values);

  /// Appends a node `op_type` on `inputs` ("" for an omitted optional input) with one output,
  /// named `output` if given, else a unique name derived from `hint`; returns that name.
  std::string add(const std::string& op_type, const std::vector<std::string>& inputs,
                  const std::string& hint, const std::vector<OnnxAttribute>& attributes = {},
                  const std::string& output = "");

  /// Declares a graph input or output of element type `elem_type` (onnx::TensorProto's
  /// DataType); a negative dimension is symbolic, named "batch".
  void add_input(const std::string& name, int32_t elem_type, const std::vector<int64_t>& shape);
  void add_output(const std::string& name, int32_t elem_type, const std::vector<int64_t>& shape);

 private:
  std::string unique(const std::string& hint);

  onnx::GraphProto* graph_;
  std::map<std::string, int> used_names_;
  std::map<uint32_t, std::string> float_scalars_;  // by bit pattern, so -0 and NaN stay apart
  std::map<uint8_t, std::string> u8_scalars_;
};

}  // namespace internal
}  // namespace bitlab

#endif  // BITLAB_EXPORT_ONNX_GRAPH_H_
