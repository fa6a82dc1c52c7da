// Every architecture in the zoo, by its registry name and default fields: builds, runs forward
// on its input, trains (the loss falls on a repeated batch), computes the same in eval and
// deployed, is built as a deployed skeleton with the same tensors, and comes back identical
// from save_pretrained -> from_pretrained.
#include <cstdlib>
#include <string>

#include <torch/nn/functional/loss.h>
#include <torch/optim/adam.h>
#include <torch/types.h>

#include "bitlayers/converter.h"
#include "bitlayers/deployed_skeleton.h"
#include "bitmodels/auto_bit_model.h"
#include "bitmodels/model_registry.h"
#include "bitmodels/model_weights.h"
#include "bitzoo/zoo.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace bitlab {
namespace bitzoo {
namespace {

using ::testing::HasSubstr;

// Cross entropy against fixed targets: classes for [B, C] logits, tokens for [B, T, V].
torch::Tensor loss_of(const torch::Tensor& output, const torch::Tensor& target) {
  return torch::nn::functional::cross_entropy(output.reshape({-1, output.size(-1)}),
                                              target.reshape({-1}));
}

class ZooModelTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ZooModelTest, BuildsTrainsDeploysAndRoundTrips) {
  torch::manual_seed(0);
  AutoBitConfig config;
  config.model_type = GetParam();
  ConversionReport report;
  std::shared_ptr<BitModel> model = AutoBitModel::from_config(config, &report);
  EXPECT_GT(report.num_converted, 0) << report.to_string();

  const torch::Tensor x = model->example_input(2);
  const torch::Tensor y = model->forward(x);
  ASSERT_GE(y.dim(), 2);
  EXPECT_EQ(y.size(0), 2);
  EXPECT_TRUE(torch::isfinite(y).all().item<bool>());
  const torch::Tensor target = torch::randint(0, y.size(-1), y.sizes().slice(0, y.dim() - 1));

  torch::optim::Adam adam(model->parameters(), torch::optim::AdamOptions(1e-3));
  const double first = loss_of(y, target).item<double>();
  double best = first;
  for (int step = 0; step < 3; ++step) {
    adam.zero_grad();
    torch::Tensor loss = loss_of(model->forward(x), target);
    loss.backward();
    adam.step();
    best = std::min(best, loss_of(model->forward(x), target).item<double>());
  }
  EXPECT_LT(best, first) << GetParam();

  model->eval();
  const torch::Tensor eval = model->forward(x);
  deploy_bit_layers(*model);
  const torch::Tensor deployed = model->forward(x);
  EXPECT_TRUE(torch::allclose(deployed, eval, 1e-4, 1e-5))
      << GetParam() << ": max difference " << (deployed - eval).abs().max().item<float>();

  // The same config built as a deployed skeleton (what load_deployed fills) has the deployed
  // model's tensors, names, shapes and dtypes, and computes the same once they are copied in.
  std::shared_ptr<BitModel> skeleton;
  {
    DeployedSkeletonScope scope;
    skeleton = AutoBitModel::from_config(config);
  }
  const auto expected_tensors = model_state_tensors(*model);
  const auto skeleton_tensors = model_state_tensors(*skeleton);
  ASSERT_EQ(skeleton_tensors.size(), expected_tensors.size());
  {
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < expected_tensors.size(); ++i) {
      const auto& [name, tensor] = expected_tensors[i];
      ASSERT_EQ(skeleton_tensors[i].first, name);
      ASSERT_EQ(skeleton_tensors[i].second.sizes(), tensor.sizes()) << name;
      ASSERT_EQ(skeleton_tensors[i].second.scalar_type(), tensor.scalar_type()) << name;
      skeleton_tensors[i].second.copy_(tensor);
    }
  }
  skeleton->eval();
  EXPECT_TRUE(torch::equal(skeleton->forward(x), deployed)) << GetParam();

  const std::string dir = std::string(std::getenv("TEST_TMPDIR")) + "/" + GetParam();
  AutoBitModel::save_pretrained(*model, dir);
  std::shared_ptr<BitModel> loaded = AutoBitModel::from_pretrained(dir);
  EXPECT_TRUE(torch::equal(loaded->forward(x), deployed)) << GetParam();
}

std::vector<std::string> zoo_types() {
  std::vector<std::string> names;
  for (const ModelType& type : ModelRegistry::list()) names.push_back(type.name);
  return names;
}

INSTANTIATE_TEST_SUITE_P(EveryArchitecture, ZooModelTest, ::testing::ValuesIn(zoo_types()),
                         [](const auto& info) { return info.param; });

TEST(ZooTest, ListsEveryArchitectureWithACard) {
  const std::vector<ZooEntry> entries = list();
  std::vector<std::string> names;
  for (const ZooEntry& entry : entries) names.push_back(entry.name);
  for (const char* expected : {"mlp", "lenet5", "resnet18", "resnet34", "resnet50", "resnet20",
                               "mobilenet_v2", "vit_tiny", "vit_small", "gpt", "bert"}) {
    EXPECT_THAT(names, ::testing::Contains(expected));
  }
  const ModelCard card = model_card("resnet18");
  EXPECT_EQ(card.parameters, 11689512);  // torchvision's, 1000 classes
  // 9.4x: the float32 stem and 1000-class classifier (1.96 MiB) stay as they are.
  EXPECT_GT(card.float_bytes, 9 * card.deployed_bytes);
  EXPECT_THAT(card.to_markdown(), HasSubstr("resnet18"));
  try {
    model_card("resnet9000");
    FAIL() << "unknown names must throw";
  } catch (const BitLabError& e) {
    EXPECT_THAT(e.what(), HasSubstr("lenet5"));
  }
}

}  // namespace
}  // namespace bitzoo
}  // namespace bitlab
