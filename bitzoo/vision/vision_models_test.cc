// Tests of the vision architectures through the model registry: output shapes, torchvision's
// parameter counts and state-dict keys, field validation, and conversion + deployment.
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/types.h>

#include "bitcore/errors.h"
#include "bitcore/quant_config.h"
#include "bitlayers/converter.h"
#include "bitmodels/bit_model.h"
#include "bitmodels/config_fields.h"
#include "bitmodels/model_registry.h"
#include "bitzoo/vision/lenet5.h"
#include "bitzoo/vision/mlp.h"
#include "bitzoo/vision/mobilenet_v2.h"
#include "bitzoo/vision/resnet.h"

namespace bitlab {
namespace bitzoo {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

// The registered builder of `type` on `architecture`, checking like AutoBitModel that every
// field was read.
std::shared_ptr<BitModel> build(const std::string& type, const nlohmann::json& architecture) {
  torch::manual_seed(0);
  ConfigFields fields(architecture, type);
  std::shared_ptr<BitModel> model = ModelRegistry::get(type).build(fields);
  fields.check_all_read();
  return model;
}

int64_t num_parameters(const torch::nn::Module& model) {
  int64_t n = 0;
  for (const torch::Tensor& p : model.parameters()) n += p.numel();
  return n;
}

// Dotted paths of every Conv2d and Linear (the layers BitConverter converts here).
std::vector<std::string> convertible_paths(const torch::nn::Module& model) {
  std::vector<std::string> paths;
  for (const auto& item : model.named_modules(/*name_prefix=*/"", /*include_self=*/false)) {
    if (item.value()->as<torch::nn::Conv2d>() || item.value()->as<torch::nn::Linear>()) {
      paths.push_back(item.key());
    }
  }
  return paths;
}

// A model type built on a small architecture, and the layers its default rules keep.
struct Case {
  std::string type;
  nlohmann::json architecture;
  int64_t num_classes;
  std::set<std::string> kept;
};

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  return info.param.type + "_" + std::to_string(info.index);
}

// Every registered vision type, at sizes that keep the tests fast.
const std::vector<Case> kCases = {
    {"mlp", nlohmann::json::object(), 10, {"classifier"}},
    {"mlp",
     {{"in_channels", 3}, {"image_size", 8}, {"hidden_sizes", {32}}, {"num_classes", 4}},
     4,
     {"classifier"}},
    {"lenet5", nlohmann::json::object(), 10, {"conv1", "fc3"}},
    {"lenet5", {{"image_size", 32}, {"in_channels", 3}}, 10, {"conv1", "fc3"}},
    {"resnet18", {{"stem", "small"}, {"num_classes", 10}}, 10, {"conv1", "fc"}},
    {"resnet18", {{"image_size", 64}, {"in_channels", 1}, {"num_classes", 7}}, 7, {"conv1", "fc"}},
    {"resnet34", {{"stem", "small"}, {"image_size", 16}, {"num_classes", 10}}, 10, {"conv1", "fc"}},
    {"resnet50", {{"stem", "small"}, {"image_size", 16}, {"num_classes", 10}}, 10, {"conv1", "fc"}},
    {"resnet20", nlohmann::json::object(), 10, {"conv1", "fc"}},
    {"mobilenet_v2",
     {{"stem", "small"}, {"num_classes", 10}},
     10,
     {"features.0.0", "classifier.1"}},
    {"mobilenet_v2",
     {{"width_mult", 0.5}, {"image_size", 64}, {"num_classes", 3}},
     3,
     {"features.0.0", "classifier.1"}},
};

class VisionModelTest : public ::testing::TestWithParam<Case> {};

TEST_P(VisionModelTest, ExampleInputGivesLogits) {
  const Case& c = GetParam();
  std::shared_ptr<BitModel> model = build(c.type, c.architecture);
  EXPECT_EQ(model->config.model_type, c.type);
  const torch::Tensor logits = model->forward(model->example_input(2));
  EXPECT_EQ(logits.sizes(), (std::vector<int64_t>{2, c.num_classes}));
  EXPECT_TRUE(logits.isfinite().all().item<bool>());
}

TEST_P(VisionModelTest, ConvertsAllButTheKeptLayersAndDeploysExactly) {
  const Case& c = GetParam();
  std::shared_ptr<BitModel> model = build(c.type, c.architecture);
  const std::vector<std::string> convertible = convertible_paths(*model);
  const std::vector<ConversionRule> rules = model->default_rules();
  const torch::Tensor input = model->example_input(2);
  model->eval();
  const torch::Tensor float_logits = model->forward(input);
  model->train();

  const ConversionReport report =
      BitConverter::convert(*model, BitQuantConfig::from_string("ai8pc_wpt"), rules);

  std::set<std::string> kept;
  for (const std::string& path : convertible) {
    const ConversionEntry* entry = report.find(path);
    ASSERT_NE(entry, nullptr) << path;
    if (entry->status == ConversionStatus::kKept) {
      EXPECT_EQ(entry->rule, rules.front().name) << path << ": " << entry->reason;
      kept.insert(path);
    } else {
      EXPECT_EQ(entry->status, ConversionStatus::kConverted) << path;
    }
  }
  EXPECT_EQ(kept, c.kept);
  EXPECT_EQ(report.num_convertible_kept, static_cast<int64_t>(c.kept.size()));
  EXPECT_EQ(report.num_converted, static_cast<int64_t>(convertible.size() - c.kept.size()));
  const std::vector<std::string> still_float = convertible_paths(*model);
  EXPECT_EQ(std::set<std::string>(still_float.begin(), still_float.end()), c.kept);

  EXPECT_EQ(model->forward(input).size(1), c.num_classes);  // training: fake quantization

  model->eval();
  const torch::Tensor before = model->forward(input);
  // The forward runs the Bit layers, not the float ones it held before.
  EXPECT_FALSE(torch::allclose(before, float_logits, /*rtol=*/1e-3, /*atol=*/1e-4));
  deploy_bit_layers(*model);
  const torch::Tensor after = model->forward(input);
  EXPECT_TRUE(torch::allclose(before, after, /*rtol=*/1e-4, /*atol=*/1e-5))
      << "max difference " << (before - after).abs().max().item<float>();
}

INSTANTIATE_TEST_SUITE_P(Registered, VisionModelTest, ::testing::ValuesIn(kCases), case_name);

TEST(VisionModelsTest, RegistersEveryType) {
  for (const char* type :
       {"mlp", "lenet5", "resnet18", "resnet34", "resnet50", "resnet20", "mobilenet_v2"}) {
    EXPECT_TRUE(ModelRegistry::contains(type)) << type;
  }
}

TEST(VisionModelsTest, TorchvisionParameterCounts) {
  EXPECT_EQ(num_parameters(*build("resnet18", {})), 11689512);
  EXPECT_EQ(num_parameters(*build("resnet34", {})), 21797672);
  EXPECT_EQ(num_parameters(*build("resnet50", {})), 25557032);
  EXPECT_EQ(num_parameters(*build("mobilenet_v2", {})), 3504872);
  // The small stem changes conv1 only: 3x3x3x64 instead of 7x7x3x64 weights.
  EXPECT_EQ(num_parameters(*build("resnet18", {{"stem", "small"}})),
            11689512 - 64 * 3 * (7 * 7 - 3 * 3));
}

TEST(VisionModelsTest, ResNet50RunsAtImageNetSize) {
  std::shared_ptr<BitModel> model = build("resnet50", {});
  model->eval();
  EXPECT_EQ(model->forward(model->example_input(1)).sizes(), (std::vector<int64_t>{1, 1000}));
}

// The parameters' and buffers' keys with their shapes.
std::map<std::string, std::vector<int64_t>> state_shapes(const torch::nn::Module& model) {
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const auto& p : model.named_parameters()) shapes[p.key()] = p.value().sizes().vec();
  for (const auto& b : model.named_buffers()) shapes[b.key()] = b.value().sizes().vec();
  return shapes;
}

using Shape = std::vector<int64_t>;

TEST(VisionModelsTest, ResNetStateDictKeysAreTorchvisions) {
  const auto resnet18 = state_shapes(*build("resnet18", {}));
  // torchvision: 62 parameters and 3 buffers for each of the 20 batch norms.
  EXPECT_EQ(resnet18.size(), 62 + 60);
  EXPECT_EQ(resnet18.at("conv1.weight"), (Shape{64, 3, 7, 7}));
  EXPECT_EQ(resnet18.at("bn1.num_batches_tracked"), Shape{});
  EXPECT_EQ(resnet18.at("layer1.0.conv1.weight"), (Shape{64, 64, 3, 3}));
  EXPECT_EQ(resnet18.count("layer1.0.downsample.0.weight"), 0);
  EXPECT_EQ(resnet18.at("layer2.0.conv1.weight"), (Shape{128, 64, 3, 3}));
  EXPECT_EQ(resnet18.at("layer2.0.downsample.0.weight"), (Shape{128, 64, 1, 1}));
  EXPECT_EQ(resnet18.at("layer2.0.downsample.1.running_var"), Shape{128});
  EXPECT_EQ(resnet18.at("layer4.1.bn2.bias"), Shape{512});
  EXPECT_EQ(resnet18.at("fc.weight"), (Shape{1000, 512}));

  const auto resnet50 = state_shapes(*build("resnet50", {}));
  EXPECT_EQ(resnet50.at("layer1.0.conv1.weight"), (Shape{64, 64, 1, 1}));
  EXPECT_EQ(resnet50.at("layer1.0.conv3.weight"), (Shape{256, 64, 1, 1}));
  EXPECT_EQ(resnet50.at("layer1.0.downsample.0.weight"), (Shape{256, 64, 1, 1}));
  EXPECT_EQ(resnet50.at("layer2.0.conv2.weight"), (Shape{128, 128, 3, 3}));  // stride here
  EXPECT_EQ(resnet50.at("layer4.2.bn3.weight"), Shape{2048});
  EXPECT_EQ(resnet50.at("fc.weight"), (Shape{1000, 2048}));

  const auto resnet20 = state_shapes(*build("resnet20", {}));
  EXPECT_EQ(resnet20.at("conv1.weight"), (Shape{16, 3, 3, 3}));
  EXPECT_EQ(resnet20.at("layer1.2.conv2.weight"), (Shape{16, 16, 3, 3}));
  EXPECT_EQ(resnet20.count("layer1.0.downsample.0.weight"), 0);
  EXPECT_EQ(resnet20.at("layer3.0.downsample.0.weight"), (Shape{64, 32, 1, 1}));
  EXPECT_EQ(resnet20.count("layer4.0.conv1.weight"), 0);
  EXPECT_EQ(resnet20.at("fc.weight"), (Shape{10, 64}));
}

TEST(VisionModelsTest, MobileNetV2StateDictKeysAreTorchvisions) {
  const auto shapes = state_shapes(*build("mobilenet_v2", {}));
  EXPECT_EQ(shapes.at("features.0.0.weight"), (Shape{32, 3, 3, 3}));
  EXPECT_EQ(shapes.at("features.0.1.running_mean"), Shape{32});
  // features.1 (expansion 1): depthwise conv, projection conv, BN.
  EXPECT_EQ(shapes.at("features.1.conv.0.0.weight"), (Shape{32, 1, 3, 3}));
  EXPECT_EQ(shapes.at("features.1.conv.1.weight"), (Shape{16, 32, 1, 1}));
  EXPECT_EQ(shapes.at("features.1.conv.2.weight"), Shape{16});
  // features.2 (expansion 6): expansion conv, depthwise conv, projection conv, BN.
  EXPECT_EQ(shapes.at("features.2.conv.0.0.weight"), (Shape{96, 16, 1, 1}));
  EXPECT_EQ(shapes.at("features.2.conv.1.0.weight"), (Shape{96, 1, 3, 3}));
  EXPECT_EQ(shapes.at("features.2.conv.2.weight"), (Shape{24, 96, 1, 1}));
  EXPECT_EQ(shapes.at("features.2.conv.3.running_var"), Shape{24});
  EXPECT_EQ(shapes.at("features.17.conv.2.weight"), (Shape{320, 960, 1, 1}));
  EXPECT_EQ(shapes.at("features.18.0.weight"), (Shape{1280, 320, 1, 1}));
  EXPECT_EQ(shapes.count("features.19.0.weight"), 0);
  EXPECT_EQ(shapes.at("classifier.1.weight"), (Shape{1000, 1280}));

  // width_mult rounds channels to multiples of 8 and keeps the last layer at least 1280 wide.
  const auto narrow = state_shapes(*build("mobilenet_v2", {{"width_mult", 0.35}}));
  EXPECT_EQ(narrow.at("features.0.0.weight"), (Shape{16, 3, 3, 3}));
  EXPECT_EQ(narrow.at("features.18.0.weight"), (Shape{1280, 112, 1, 1}));
}

TEST(VisionModelsTest, MlpAndLeNetLayerNames) {
  const auto mlp = state_shapes(*build("mlp", {{"hidden_sizes", {64, 32, 16}}}));
  EXPECT_EQ(mlp.at("fc1.weight"), (Shape{64, 784}));
  EXPECT_EQ(mlp.at("fc3.weight"), (Shape{16, 32}));
  EXPECT_EQ(mlp.at("classifier.weight"), (Shape{10, 16}));
  EXPECT_EQ(mlp.size(), 8);

  const auto lenet = state_shapes(*build("lenet5", {}));
  EXPECT_EQ(lenet.at("conv1.weight"), (Shape{6, 1, 5, 5}));
  EXPECT_EQ(lenet.at("conv2.weight"), (Shape{16, 6, 5, 5}));
  EXPECT_EQ(lenet.at("fc1.weight"), (Shape{120, 400}));
  EXPECT_EQ(lenet.at("fc3.weight"), (Shape{10, 84}));
}

TEST(VisionModelsTest, BadFieldsNameTheField) {
  const auto expect_config_error = [](const std::string& type, const nlohmann::json& arch,
                                      const std::string& field, const std::string& got) {
    try {
      build(type, arch);
      ADD_FAILURE() << type << " accepted " << arch.dump();
    } catch (const ConfigError& e) {
      EXPECT_THAT(e.what(), AllOf(HasSubstr("'" + field + "'"), HasSubstr(got))) << type;
    }
  };
  expect_config_error("resnet18", {{"stem", "tiny"}}, "stem", "\"tiny\"");
  expect_config_error("resnet50", {{"num_classes", 0}}, "num_classes", "got 0");
  expect_config_error("resnet34", {{"in_channels", "3"}}, "in_channels", "\"3\"");
  expect_config_error("resnet20", {{"image_size", -1}}, "image_size", "got -1");
  // resnet20's stem is fixed: the field is unknown, not ignored.
  expect_config_error("resnet20", {{"stem", "small"}}, "stem", "unknown field");
  expect_config_error("mobilenet_v2", {{"width_mult", 0}}, "width_mult", "got 0");
  expect_config_error("mobilenet_v2", {{"stem", "tiny"}}, "stem", "\"tiny\"");
  expect_config_error("lenet5", {{"image_size", 30}}, "image_size", "28 or 32, got 30");
  expect_config_error("mlp", {{"hidden_sizes", {64, 0}}}, "hidden_sizes", "[64,0]");
  expect_config_error("mlp", {{"num_clases", 10}}, "num_clases", "unknown field");
}

TEST(VisionModelsTest, WrongInputShapeNamesTheExpectedOne) {
  const auto expect_shape_error = [](const std::string& type, const torch::Tensor& input,
                                     const std::string& expected) {
    std::shared_ptr<BitModel> model = build(type, {});
    try {
      model->forward(input);
      ADD_FAILURE() << type << " accepted " << input.sizes();
    } catch (const ShapeError& e) {
      EXPECT_THAT(e.what(), AllOf(HasSubstr(type), HasSubstr(expected)));
    }
  };
  expect_shape_error("lenet5", torch::randn({1, 1, 32, 32}), "[B, 1, 28, 28], got [1, 1, 32, 32]");
  expect_shape_error("mlp", torch::randn({1, 784}), "[B, 1, 28, 28], got [1, 784]");
  expect_shape_error("resnet20", torch::randn({1, 1, 32, 32}), "[B, 3, H, W]");
}

TEST(VisionModelsTest, DirectConstructionMatchesTheRegistry) {
  torch::manual_seed(0);
  ResNet resnet(resnet18_options().stem(Stem::kSmall).num_classes(10).image_size(32));
  EXPECT_EQ(resnet->config.model_type, "resnet18");
  EXPECT_TRUE(resnet->maxpool.is_empty());
  EXPECT_EQ(resnet->layers.size(), 4);
  EXPECT_EQ(num_parameters(*resnet),
            num_parameters(*build("resnet18", {{"stem", "small"}, {"num_classes", 10}})));
  EXPECT_THROW(ResNet(ResNetOptions(ResNetBlock::kBasic, {2, 2}).stage_planes({64})), BitLabError);
  EXPECT_THROW(LeNet5(LeNet5Options().image_size(30)), BitLabError);
}

}  // namespace
}  // namespace bitzoo
}  // namespace bitlab
