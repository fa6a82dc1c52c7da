#include "export/quantize_for_deployment.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/grad_mode.h>
#include <torch/nn/modules/linear.h>

#include "absl/strings/str_cat.h"
#include "bitlayers/bit_layer.h"
#include "bitmodels/auto_bit_model.h"

namespace bitlab {
namespace {

std::shared_ptr<BitModel> ternary_lenet5() {
  return AutoBitModel::from_config(
      AutoBitConfig::from_json({{"model_type", "lenet5"}, {"quant_config", "ai8pc_wpt"}}));
}

int64_t deployed_bit_layers(const torch::nn::Module& module) {
  int64_t count = 0;
  for (const auto& child : module.modules()) {
    const auto* bit = dynamic_cast<const BitLayer*>(child.get());
    if (bit != nullptr && bit->is_deployed()) ++count;
  }
  return count;
}

TEST(QuantizeForDeploymentTest, DeploysEveryBitLayerAndComputesTheSame) {
  std::shared_ptr<BitModel> model = ternary_lenet5();
  model->eval();
  torch::NoGradGuard no_grad;
  const at::Tensor input = model->example_input(4);
  const at::Tensor before = model->forward(input);

  const DeploymentReport report = quantize_for_deployment(*model);
  EXPECT_GT(report.layers_deployed, 0);
  EXPECT_EQ(deployed_bit_layers(*model), report.layers_deployed);
  EXPECT_EQ(report.bytes_after, held_bytes(*model));
  EXPECT_GT(report.ratio(), 4.0);  // float weights freed; first and last layers stay float32
  EXPECT_FALSE(report.layers.layers.empty());
  EXPECT_THAT(report.to_string(),
              ::testing::HasSubstr(absl::StrCat("deployed ", report.layers_deployed, " Bit")));
  // The eval path already ran the deployed kernels on packed weights: the same numbers.
  EXPECT_TRUE(model->forward(input).equal(before));

  const DeploymentReport again = quantize_for_deployment(*model);
  EXPECT_EQ(again.layers_deployed, 0);
  EXPECT_EQ(again.bytes_before, again.bytes_after);
}

TEST(QuantizeForDeploymentTest, FloatModuleIsLeftAsItIs) {
  torch::nn::Linear linear(8, 4);
  const DeploymentReport report = quantize_for_deployment(*linear);
  EXPECT_EQ(report.layers_deployed, 0);
  EXPECT_EQ(report.bytes_before, (8 * 4 + 4) * 4);
  EXPECT_EQ(report.bytes_after, report.bytes_before);
  EXPECT_EQ(report.ratio(), 1.0);
}

}  // namespace
}  // namespace bitlab
