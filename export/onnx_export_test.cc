// export_onnx: every zoo architecture it knows, in both modes, makes a model that libonnx's
// checker and its strict shape inference (types checked, declared output shapes confirmed)
// accept, whose weights are stored as the mode says; files round-trip; errors name the layer,
// shape or file at fault. onnxruntime running the files against BitLab's output is
// onnx_export_interop_test.
#include "export/onnx_export.h"

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/types.h>

#include "bitcore/errors.h"
#include "bitcore/quant_config.h"
#include "bitlayers/bit_conv.h"
#include "bitlayers/bit_linear.h"
#include "bitlayers/converter.h"
#include "bitmodels/auto_bit_model.h"
#include "onnx/checker.h"
#include "onnx/shape_inference/implementation.h"

namespace bitlab {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

std::string temp_path(const std::string& name) {
  return std::string(std::getenv("TEST_TMPDIR")) + "/" + name;
}

std::shared_ptr<BitModel> build(const nlohmann::json& config) {
  torch::manual_seed(0);
  return AutoBitModel::from_config(AutoBitConfig::from_json(config));
}

// The zoo models export_onnx knows, small where a field allows.
std::map<std::string, nlohmann::json> zoo_configs() {
  return {
      {"mlp", {{"model_type", "mlp"}, {"quant_config", "ai8pc_wpt"}}},
      {"lenet5", {{"model_type", "lenet5"}, {"quant_config", "ai8pt_wpc"}}},
      {"resnet18",
       {{"model_type", "resnet18"},
        {"quant_config", "ai8pc_wpc"},
        {"architecture", {{"image_size", 32}}}}},
      {"resnet50_small_stem",
       {{"model_type", "resnet50"},
        {"quant_config", "af32_wpt"},
        {"architecture", {{"stem", "small"}, {"image_size", 16}}}}},
      {"vit_tiny",
       {{"model_type", "vit_tiny"},
        {"quant_config", "ai8pc_wpt"},
        {"architecture", {{"image_size", 32}, {"depth", 2}}}}},
      {"gpt",
       {{"model_type", "gpt"},
        {"quant_config", "ai8pc_wpt"},
        {"architecture", {{"hidden_size", 64}, {"num_layers", 2}}}}},
      {"gpt_swiglu_ternary_embeddings",
       {{"model_type", "gpt"},
        {"quant_config", "ai8pt_wpc"},
        {"architecture",
         {{"hidden_size", 64},
          {"num_layers", 1},
          {"mlp", "swiglu"},
          {"ternary_embeddings", true}}}}},
  };
}

// Bytes of the initializers by ONNX element type.
std::map<int32_t, int64_t> initializer_bytes(const onnx::ModelProto& model) {
  std::map<int32_t, int64_t> bytes;
  for (const onnx::TensorProto& t : model.graph().initializer()) {
    EXPECT_FALSE(t.raw_data().empty()) << t.name() << " is not stored as raw_data";
    bytes[t.data_type()] += static_cast<int64_t>(t.raw_data().size());
  }
  return bytes;
}

int count_ops(const onnx::ModelProto& model, const std::string& op_type) {
  int n = 0;
  for (const onnx::NodeProto& node : model.graph().node()) n += node.op_type() == op_type;
  return n;
}

void check_strictly(onnx::ModelProto model, const std::string& label) {
  SCOPED_TRACE(label);
  EXPECT_NO_THROW(onnx::checker::check_model(model));
  // Types checked, node-level errors thrown, shapes propagated through Shape / Concat: the
  // declared output shape must agree with what the graph computes.
  EXPECT_NO_THROW(onnx::shape_inference::InferShapes(
      model, onnx::OpSchemaRegistry::Instance(),
      onnx::ShapeInferenceOptions(/*check_type_val=*/true, /*strict_mode_val=*/1,
                                  /*data_prop_val=*/true)));
}

TEST(OnnxExportTest, EveryZooModelInBothModesPassesTheCheckerAndShapeInference) {
  for (const auto& [name, config] : zoo_configs()) {
    std::shared_ptr<BitModel> model = build(config);
    deploy_bit_layers(*model);
    std::map<OnnxMode, onnx::ModelProto> exported;
    for (const OnnxMode mode : {OnnxMode::kFloat, OnnxMode::kInt8}) {
      OnnxExportOptions options;
      options.mode = mode;
      const std::string path = temp_path(name + "-" + to_string(mode) + ".onnx");
      export_onnx(*model, path, options);
      // The file is the model: it parses back and passes the checker by path too.
      std::ifstream file(path, std::ios::binary);
      std::stringstream contents;
      contents << file.rdbuf();
      onnx::ModelProto loaded;
      ASSERT_TRUE(loaded.ParseFromString(contents.str())) << path;
      EXPECT_NO_THROW(onnx::checker::check_model(path)) << path;
      check_strictly(loaded, path);
      EXPECT_EQ(loaded.opset_import(0).version(), 17);
      EXPECT_EQ(loaded.graph().output(0).name(), "logits");
      EXPECT_EQ(loaded.graph().input(0).type().tensor_type().shape().dim(0).dim_param(), "batch");
      exported[mode] = loaded;
    }
    const bool int8_activations =
        model->config.quant_config.activation_dtype == ActivationDtype::kInt8;
    const onnx::ModelProto& float_model = exported[OnnxMode::kFloat];
    const onnx::ModelProto& int8_model = exported[OnnxMode::kInt8];
    // float: no integer arithmetic, no 8-bit initializers. int8: integer products, and the
    // Bit layers' weights in 8 bits, so a quarter of the float file's weight bytes each.
    EXPECT_EQ(count_ops(float_model, "MatMulInteger") + count_ops(float_model, "ConvInteger"), 0)
        << name;
    std::map<int32_t, int64_t> float_bytes = initializer_bytes(float_model);
    std::map<int32_t, int64_t> int8_bytes = initializer_bytes(int8_model);
    EXPECT_EQ(float_bytes[onnx::TensorProto::INT8] + float_bytes[onnx::TensorProto::UINT8], 0)
        << name;
    const int64_t ternary_bytes =
        int8_bytes[onnx::TensorProto::INT8] + int8_bytes[onnx::TensorProto::UINT8];
    EXPECT_GT(ternary_bytes, 0) << name;
    // Each ternary weight: 4 bytes in the float file, 1 in the int8 file. (Besides them the
    // int8 file holds zero points and a shift, and BitEmbedding's scales, which the float file
    // folds into its table: under 1% here.)
    EXPECT_NEAR(static_cast<double>(float_bytes[onnx::TensorProto::FLOAT] -
                                    int8_bytes[onnx::TensorProto::FLOAT]),
                4.0 * static_cast<double>(ternary_bytes), 0.01 * 4.0 * ternary_bytes)
        << name;
    if (int8_activations) {
      EXPECT_GT(count_ops(int8_model, "MatMulInteger") + count_ops(int8_model, "ConvInteger"), 0)
          << name;
      EXPECT_GT(count_ops(float_model, "Round"), 0) << name;
    }
  }
}

TEST(OnnxExportTest, MetadataNamesTheModeAndConfig) {
  std::shared_ptr<BitModel> model = build(zoo_configs().at("lenet5"));
  OnnxExportOptions options;
  options.mode = OnnxMode::kInt8;
  const onnx::ModelProto proto = build_onnx_model(*model, options);
  std::map<std::string, std::string> metadata;
  for (const auto& entry : proto.metadata_props()) metadata[entry.key()] = entry.value();
  EXPECT_EQ(metadata["bitlab.onnx_mode"], "int8");
  EXPECT_EQ(metadata["bitlab.model_type"], "lenet5");
  EXPECT_EQ(metadata["bitlab.quant_config"], "ai8pt_wpc");
  EXPECT_EQ(metadata["bitlab.input_shape"], "[1, 1, 28, 28]");
}

TEST(OnnxExportTest, TrainableAndDeployedModelsExportTheSameWeights) {
  std::shared_ptr<BitModel> model = build(zoo_configs().at("mlp"));
  model->eval();
  OnnxExportOptions options;
  options.mode = OnnxMode::kInt8;
  const std::string before = build_onnx_model(*model, options).SerializeAsString();
  deploy_bit_layers(*model);
  const std::string after = build_onnx_model(*model, options).SerializeAsString();
  EXPECT_EQ(before, after);
}

TEST(OnnxExportTest, SingleLayersExportWithAGivenShape) {
  BitQuantConfig config = BitQuantConfig::from_string("ai8pc_wpc");
  BitLinear linear(BitLinearOptions(12, 5).quant_config(config));
  BitConv2d conv(BitConv2dOptions(3, 4, 3).padding(torch::kSame).quant_config(config));
  torch::nn::Conv2d float_conv(torch::nn::Conv2dOptions(3, 4, 3).stride(2));
  OnnxExportOptions options;
  options.mode = OnnxMode::kInt8;
  options.input_shape = {2, 7, 12};
  check_strictly(build_onnx_model(*linear, options), "BitLinear");
  options.input_shape = {2, 3, 9, 9};
  check_strictly(build_onnx_model(*conv, options), "BitConv2d");
  check_strictly(build_onnx_model(*float_conv, options), "Conv2d");
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const BitLabError& e) {
    return e.what();
  }
  return "no BitLabError";
}

TEST(OnnxExportTest, ErrorsNameWhatIsWrong) {
  std::shared_ptr<BitModel> lenet = build(zoo_configs().at("lenet5"));
  OnnxExportOptions options;
  options.input_shape = {1, 1, 32, 32};
  EXPECT_THAT(error_of([&] { build_onnx_model(*lenet, options); }),
              AllOf(HasSubstr("lenet5"), HasSubstr("[1, 1, 32, 32]"), HasSubstr("[B, 1, 28, 28]")));
  EXPECT_THROW(build_onnx_model(*lenet, options), ShapeError);

  std::shared_ptr<BitModel> gpt = build(zoo_configs().at("gpt"));
  options.input_shape = {1, 257};
  EXPECT_THAT(error_of([&] { build_onnx_model(*gpt, options); }),
              AllOf(HasSubstr("gpt"), HasSubstr("[1, 257]"), HasSubstr("T <= 256")));

  options = OnnxExportOptions();
  options.opset = 13;
  EXPECT_THAT(error_of([&] { build_onnx_model(*lenet, options); }),
              AllOf(HasSubstr("opset 13"), HasSubstr("17")));

  options = OnnxExportOptions();
  const std::string unwritable = temp_path("no-such-dir/sub/lenet5.onnx");
  EXPECT_THAT(error_of([&] { export_onnx(*lenet, unwritable, options); }), HasSubstr(unwritable));

  // Architectures and layers export does not know.
  std::shared_ptr<BitModel> mobilenet =
      build({{"model_type", "mobilenet_v2"}, {"architecture", {{"image_size", 32}}}});
  EXPECT_THAT(error_of([&] { build_onnx_model(*mobilenet, options); }),
              HasSubstr("not a model ONNX export knows"));
  torch::nn::ReLU relu;
  options.input_shape = {1, 4};
  EXPECT_THAT(error_of([&] { build_onnx_model(*relu, options); }),
              AllOf(HasSubstr("ReLU"), HasSubstr("not a model ONNX export knows")));
  options.input_shape = {};
  EXPECT_THAT(error_of([&] { build_onnx_model(*relu, options); }), HasSubstr("input_shape"));

  // A layer inside a known architecture that export cannot express: the error names its path.
  std::shared_ptr<BitModel> mlp = build(zoo_configs().at("mlp"));
  mlp->replace_module("fc2", torch::nn::ReLU());
  EXPECT_THAT(error_of([&] { build_onnx_model(*mlp, options); }),
              AllOf(HasSubstr("'fc2'"), HasSubstr("ReLU"), HasSubstr("Linear")));
}

TEST(OnnxExportTest, ConvolutionsPaddingOtherThanZerosAreRefusedByName) {
  BitConv2d conv(BitConv2dOptions(3, 4, 3).padding(1).padding_mode(torch::kReflect));
  OnnxExportOptions options;
  options.input_shape = {1, 3, 8, 8};
  EXPECT_THAT(error_of([&] { build_onnx_model(*conv, options); }),
              AllOf(HasSubstr("padding_mode"), HasSubstr("zeros")));
}

TEST(OnnxExportTest, ModeNamesParse) {
  EXPECT_EQ(onnx_mode_from_string("float"), OnnxMode::kFloat);
  EXPECT_EQ(onnx_mode_from_string("int8"), OnnxMode::kInt8);
  EXPECT_THAT(error_of([] { onnx_mode_from_string("fp16"); }),
              AllOf(HasSubstr("fp16"), HasSubstr("int8")));
}

}  // namespace
}  // namespace bitlab
