// TorchScript export: the assembled module computes what the BitLab model computes (in this
// process, and after a save and torch::jit::load), for every supported architecture, trainable
// and deployed, in every activation mode; what it cannot express is a clean BitLabError.
// Python's torch.jit.load runs the same files in torchscript_export_interop_test.
#include "export/torchscript_export.h"

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <torch/csrc/jit/serialization/import.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/types.h>

#include "bitcore/errors.h"
#include "bitmodels/auto_bit_model.h"
#include "export/export_test_models.h"

namespace bitlab {
namespace {

struct Case {
  std::string name;
  std::string config_json;
  bool deploy;
};

// max |a - b| / max |b|: the largest error relative to the output's scale.
double relative_error(const at::Tensor& actual, const at::Tensor& expected) {
  // An all-zero output would match anything: the models are calibrated so it never is.
  EXPECT_GT(expected.abs().max().item<double>(), 1e-3) << "degenerate output";
  return (actual - expected).abs().max().item<double>() /
         std::max(expected.abs().max().item<double>(), 1e-30);
}

std::string temp_path(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return std::string(dir != nullptr ? dir : "/tmp") + "/" + name;
}

class TorchScriptExportTest : public ::testing::TestWithParam<Case> {};

TEST_P(TorchScriptExportTest, ScriptComputesWhatTheModelComputes) {
  const std::shared_ptr<BitModel> model =
      testing::export_test_model(GetParam().config_json, GetParam().deploy);
  torch::NoGradGuard no_grad;
  torch::manual_seed(11);
  const at::Tensor input = model->example_input(3);
  const at::Tensor expected = model->forward(input);

  torch::jit::Module script = build_torchscript(*model);
  const at::Tensor direct = script.forward({input}).toTensor();
  ASSERT_EQ(direct.sizes(), expected.sizes());
  const double error = relative_error(direct, expected);
  std::printf("%s: relative error %.2e\n", GetParam().name.c_str(), error);
  EXPECT_LT(error, 1e-4);

  const std::string path = temp_path("model.pt");
  to_torchscript(*model, path);
  torch::jit::Module loaded = torch::jit::load(path);
  const at::Tensor reloaded = loaded.forward({input}).toTensor();
  EXPECT_TRUE(torch::equal(reloaded, direct));
}

INSTANTIATE_TEST_SUITE_P(
    Models, TorchScriptExportTest,
    ::testing::Values(
        Case{"mlp_deployed", R"({"model_type": "mlp", "quant_config": "ai8pc_wpt"})", true},
        Case{"mlp_per_tensor", R"({"model_type": "mlp", "quant_config": "ai8pt_wpc"})", false},
        Case{"mlp_float_activations", R"({"model_type": "mlp", "quant_config": "af32_wpc"})", true},
        Case{"lenet5_deployed", R"({"model_type": "lenet5", "quant_config": "ai8pc_wpt"})", true},
        Case{"lenet5_per_tensor", R"({"model_type": "lenet5", "quant_config": "ai8pt_wpt"})",
             false},
        Case{"resnet20", R"({"model_type": "resnet20", "quant_config": "ai8pc_wpc"})", true},
        Case{"resnet18", R"({"model_type": "resnet18", "quant_config": "ai8pc_wpt",
                             "architecture": {"stem": "small", "num_classes": 10}})",
             true},
        Case{"resnet20_float_activations",
             R"({"model_type": "resnet20", "quant_config": "af32_wpt"})", true},
        Case{"resnet50", R"({"model_type": "resnet50", "quant_config": "ai8pt_wpc",
                             "architecture": {"stem": "small", "num_classes": 10}})",
             false},
        Case{"mobilenet_v2", R"({"model_type": "mobilenet_v2", "quant_config": "ai8pc_wpt",
                                 "architecture": {"stem": "small", "width_mult": 0.5,
                                                  "num_classes": 10}})",
             true},
        Case{"lenet5_float32", R"({"model_type": "lenet5", "precision": "float32"})", false}),
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

// A module the exporter was not written for, deep in a supported tree.
TEST(TorchScriptExportErrors, UnknownModuleIsNamed) {
  torch::nn::Sequential model(torch::nn::Conv2d(3, 4, 3), torch::nn::GELU());
  try {
    build_torchscript(*model);
    FAIL() << "exported a GELU";
  } catch (const BitLabError& e) {
    EXPECT_NE(std::string(e.what()).find("'1' (torch::nn::GELUImpl)"), std::string::npos)
        << e.what();
  }
}

TEST(TorchScriptExportErrors, UnsupportedOptionIsNamed) {
  torch::nn::Sequential model(torch::nn::Conv2d(
      torch::nn::Conv2dOptions(3, 4, 3).padding(1).padding_mode(torch::kReflect)));
  try {
    build_torchscript(*model);
    FAIL() << "exported reflect padding";
  } catch (const BitLabError& e) {
    EXPECT_NE(std::string(e.what()).find("padding mode"), std::string::npos) << e.what();
  }
}

TEST(TorchScriptExportErrors, GptIsNotAVisionModel) {
  const std::shared_ptr<BitModel> model =
      AutoBitModel::from_config(AutoBitConfig::from_json({{"model_type", "gpt"}}));
  EXPECT_THROW(build_torchscript(*model), BitLabError);
}

TEST(TorchScriptExportErrors, UnwritablePathIsNamed) {
  const std::shared_ptr<BitModel> model =
      testing::export_test_model(R"({"model_type": "mlp"})", false);
  const std::string path = "/nonexistent-dir/model.pt";
  try {
    to_torchscript(*model, path);
    FAIL() << "wrote to " << path;
  } catch (const BitLabError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace bitlab
