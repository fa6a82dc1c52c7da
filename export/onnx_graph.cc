#include "export/onnx_graph.h"

#include <cstring>

#include <c10/core/ScalarType.h>
#include <torch/types.h>

#include "absl/strings/str_cat.h"
#include "bitcore/errors.h"

namespace bitlab {
namespace internal {
namespace {

int32_t onnx_type(at::ScalarType type) {
  switch (type) {
    case at::kFloat:
      return onnx::TensorProto::FLOAT;
    case at::kLong:
      return onnx::TensorProto::INT64;
    case at::kInt:
      return onnx::TensorProto::INT32;
    case at::kChar:
      return onnx::TensorProto::INT8;
    case at::kByte:
      return onnx::TensorProto::UINT8;
    case at::kBool:
      return onnx::TensorProto::BOOL;
    default:
      throw BitLabError(
          absl::StrCat("export_onnx: no ONNX initializer type for dtype ", c10::toString(type)));
  }
}

void set_shape(onnx::ValueInfoProto* value, int32_t elem_type, const std::vector<int64_t>& shape) {
  onnx::TypeProto_Tensor* tensor = value->mutable_type()->mutable_tensor_type();
  tensor->set_elem_type(elem_type);
  onnx::TensorShapeProto* dims = tensor->mutable_shape();
  for (int64_t d : shape) {
    if (d < 0) {
      dims->add_dim()->set_dim_param("batch");
    } else {
      dims->add_dim()->set_dim_value(d);
    }
  }
}

}  // namespace

OnnxAttribute OnnxAttribute::integer(const std::string& name, int64_t value) {
  OnnxAttribute a;
  a.name = name;
  a.type = onnx::AttributeProto::INT;
  a.i = value;
  return a;
}

OnnxAttribute OnnxAttribute::real(const std::string& name, float value) {
  OnnxAttribute a;
  a.name = name;
  a.type = onnx::AttributeProto::FLOAT;
  a.f = value;
  return a;
}

OnnxAttribute OnnxAttribute::integers(const std::string& name, const std::vector<int64_t>& values) {
  OnnxAttribute a;
  a.name = name;
  a.type = onnx::AttributeProto::INTS;
  a.ints = values;
  return a;
}

OnnxGraph::OnnxGraph(onnx::GraphProto* graph) : graph_(graph) {}

std::string OnnxGraph::unique(const std::string& hint) {
  const std::string base = hint.empty() ? "value" : hint;
  const int count = used_names_[base]++;
  return count == 0 ? base : absl::StrCat(base, "_", count);
}

std::string OnnxGraph::initializer(const std::string& hint, const at::Tensor& tensor) {
  const at::Tensor t = tensor.detach().cpu().contiguous();
  onnx::TensorProto* proto = graph_->add_initializer();
  const std::string name = unique(hint);
  proto->set_name(name);
  proto->set_data_type(onnx_type(t.scalar_type()));
  for (int64_t d : t.sizes()) proto->add_dims(d);
  proto->set_raw_data(std::string(static_cast<const char*>(t.data_ptr()), t.nbytes()));
  return name;
}

std::string OnnxGraph::scalar(float value) {
  uint32_t bits = 0;
  std::memcpy(&bits, &value, sizeof(bits));
  auto it = float_scalars_.find(bits);
  if (it != float_scalars_.end()) return it->second;
  const std::string name = initializer("const_f", torch::full({}, value, torch::kFloat));
  float_scalars_[bits] = name;
  return name;
}

std::string OnnxGraph::scalar_u8(uint8_t value) {
  auto it = u8_scalars_.find(value);
  if (it != u8_scalars_.end()) return it->second;
  const std::string name = initializer("const_u8", torch::full({}, value, torch::kByte));
  u8_scalars_[value] = name;
  return name;
}

std::string OnnxGraph::int64s(const std::string& hint, const std::vector<int64_t>& values) {
  return initializer(hint, torch::tensor(values, torch::kLong));
}

std::string OnnxGraph::add(const std::string& op_type, const std::vector<std::string>& inputs,
                           const std::string& hint, const std::vector<OnnxAttribute>& attributes,
                           const std::string& output) {
  onnx::NodeProto* node = graph_->add_node();
  node->set_op_type(op_type);
  const std::string out = output.empty() ? unique(absl::StrCat(hint, "/", op_type)) : output;
  node->set_name(out);
  for (const std::string& input : inputs) node->add_input(input);
  node->add_output(out);
  for (const OnnxAttribute& a : attributes) {
    onnx::AttributeProto* attribute = node->add_attribute();
    attribute->set_name(a.name);
    attribute->set_type(a.type);
    if (a.type == onnx::AttributeProto::INT) {
      attribute->set_i(a.i);
    } else if (a.type == onnx::AttributeProto::FLOAT) {
      attribute->set_f(a.f);
    } else {
      for (int64_t v : a.ints) attribute->add_ints(v);
    }
  }
  return out;
}

void OnnxGraph::add_input(const std::string& name, int32_t elem_type,
                          const std::vector<int64_t>& shape) {
  onnx::ValueInfoProto* value = graph_->add_input();
  value->set_name(name);
  set_shape(value, elem_type, shape);
  used_names_[name]++;
}

void OnnxGraph::add_output(const std::string& name, int32_t elem_type,
                           const std::vector<int64_t>& shape) {
  onnx::ValueInfoProto* value = graph_->add_output();
  value->set_name(name);
  set_shape(value, elem_type, shape);
}

}  // namespace internal
}  // namespace bitlab
