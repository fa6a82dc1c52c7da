#include "export/onnx_export.h"

#include <exception>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bitcore/errors.h"
#include "bitcore/io/atomic_file.h"
#include "bitmodels/bit_model.h"
#include "export/onnx_architectures.h"
#include "export/onnx_graph.h"
#include "export/onnx_layers.h"
#include "onnx/checker.h"

namespace bitlab {
namespace {

constexpr const char* kCaller = "export_onnx";
constexpr int64_t kOpset = 17;
// ONNX 1.12's IR version, which opset 17 belongs to (onnxruntime 1.17 reads up to 9).
constexpr int64_t kIrVersion = 8;

void add_metadata(onnx::ModelProto& model, const std::string& key, const std::string& value) {
  onnx::StringStringEntryProto* entry = model.add_metadata_props();
  entry->set_key(key);
  entry->set_value(value);
}

}  // namespace

const char* to_string(OnnxMode mode) {
  switch (mode) {
    case OnnxMode::kFloat:
      return "float";
    case OnnxMode::kInt8:
      return "int8";
  }
  return "?";
}

OnnxMode onnx_mode_from_string(const std::string& name) {
  if (name == "float") return OnnxMode::kFloat;
  if (name == "int8") return OnnxMode::kInt8;
  throw BitLabError(
      absl::StrCat("ONNX export mode '", name, "' is not one of \"float\" and \"int8\""));
}

onnx::ModelProto build_onnx_model(const torch::nn::Module& model,
                                  const OnnxExportOptions& options) {
  if (options.opset != kOpset) {
    throw BitLabError(absl::StrCat(kCaller, ": opset ", options.opset,
                                   " is not supported; this exporter writes opset ", kOpset));
  }
  std::vector<int64_t> shape = options.input_shape;
  const auto* bit_model = dynamic_cast<const BitModel*>(&model);
  if (shape.empty()) {
    if (bit_model == nullptr) {
      throw ShapeError(absl::StrCat(kCaller, ": ", model.name(),
                                    " is not a BitModel, so OnnxExportOptions::input_shape must "
                                    "give the input's shape"));
    }
    shape = bit_model->example_input(1).sizes().vec();
  }
  onnx::ModelProto proto;
  proto.set_ir_version(kIrVersion);
  proto.set_producer_name("BitLab");
  proto.set_doc_string("Exported by bitlab::export_onnx");
  onnx::OperatorSetIdProto* opset = proto.add_opset_import();
  opset->set_domain("");
  opset->set_version(kOpset);
  onnx::GraphProto* graph = proto.mutable_graph();
  graph->set_name(bit_model != nullptr && !bit_model->config.model_type.empty()
                      ? bit_model->config.model_type
                      : model.name());
  internal::OnnxGraph builder(graph);
  internal::OnnxLayers layers(builder, options.mode);
  const internal::ArchitectureGraph built = internal::architecture_graph(model, shape, layers);
  add_metadata(proto, "bitlab.onnx_mode", to_string(options.mode));
  add_metadata(proto, "bitlab.architecture", built.architecture);
  add_metadata(proto, "bitlab.input_shape", absl::StrCat("[", absl::StrJoin(shape, ", "), "]"));
  if (bit_model != nullptr) {
    add_metadata(proto, "bitlab.model_type", bit_model->config.model_type);
    add_metadata(proto, "bitlab.quant_config", bit_model->config.quant_config.to_string());
  }
  try {
    onnx::checker::check_model(proto);
  } catch (const std::exception& e) {
    // A bug in the exporter, never in the user's model: say which graph failed and why.
    throw BitLabError(absl::StrCat(kCaller, ": onnx::checker rejected the ", built.architecture,
                                   " graph: ", e.what()));
  }
  return proto;
}

void export_onnx(const torch::nn::Module& model, const std::string& path,
                 const OnnxExportOptions& options) {
  const onnx::ModelProto proto = build_onnx_model(model, options);
  std::string bytes;
  if (!proto.SerializeToString(&bytes)) {
    throw BitLabError(absl::StrCat(kCaller, ": could not serialize the model for ", path,
                                   " (protobuf limits a model to 2 GB)"));
  }
  write_file_atomically(path, {{bytes.data(), bytes.size()}});
}

}  // namespace bitlab
