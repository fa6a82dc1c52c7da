#include "bitlayers/bit_linear.h"

#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/sgd.h>
#include <torch/serialize.h>
#include <torch/types.h>

#include "bitcore/errors.h"
#include "bitcore/quantization.h"

namespace bitlab {
namespace {

using ::testing::HasSubstr;

BitLinear make_layer(int64_t in, int64_t out, const char* quant, bool bias = true) {
  return BitLinear(
      BitLinearOptions(in, out).bias(bias).quant_config(BitQuantConfig::from_string(quant)));
}

std::vector<std::string> keys(const torch::OrderedDict<std::string, torch::Tensor>& dict) {
  return dict.keys();
}

TEST(BitLinearTest, TrainEvalAndDeployForwardsAgree) {
  torch::manual_seed(0);
  for (const char* quant : {"ai8pc_wpt", "ai8pt_wpc", "af32_wpt"}) {
    for (bool bias : {true, false}) {
      BitLinear layer = make_layer(37, 19, quant, bias);
      const torch::Tensor x = torch::randn({2, 3, 37});
      const torch::Tensor train = layer(x);
      layer->eval();
      const torch::Tensor eval = layer(x);
      layer->deploy();
      const torch::Tensor deployed = layer(x);
      EXPECT_EQ(train.sizes(), (std::vector<int64_t>{2, 3, 19}));
      EXPECT_TRUE(torch::allclose(eval, train.detach(), 1e-4, 1e-5)) << quant;
      EXPECT_TRUE(torch::equal(deployed, eval)) << quant;
    }
  }
}

TEST(BitLinearTest, GradientsStayRightWhenTheWorkspaceIsReused) {
  torch::manual_seed(8);
  const BitQuantConfig config = BitQuantConfig::from_string("af32_wpc");
  BitLinear layer(BitLinearOptions(16, 8).quant_config(config));
  torch::optim::SGD sgd(layer->parameters(), torch::optim::SGDOptions(1.0));
  for (int step = 0; step < 3; ++step) {
    const torch::Tensor x = torch::randn({4, 16}, torch::requires_grad());
    const torch::Tensor r = torch::randn({4, 8});
    sgd.zero_grad();
    (layer(x) * r).sum().backward();
    // STE: Linear's gradients at the dequantized weight: r^T x for W, r W_hat for x.
    const torch::Tensor w_hat = fake_quantize_weight(layer->weight.detach(), config);
    EXPECT_TRUE(torch::allclose(layer->weight.grad(), r.t().mm(x.detach()), 1e-5, 1e-6)) << step;
    EXPECT_TRUE(torch::allclose(x.grad(), r.mm(w_hat), 1e-5, 1e-6)) << step;
    sgd.step();
  }
}

TEST(BitLinearTest, StateNamesAreStable) {
  BitLinear layer = make_layer(8, 4, "ai8pc_wpt");
  EXPECT_EQ(keys(layer->named_parameters()), (std::vector<std::string>{"weight", "bias"}));
  EXPECT_EQ(keys(layer->named_buffers()), (std::vector<std::string>{"qweight", "qweight_scale"}));
  layer->deploy();  // the same keys; the bias moves to the buffers
  EXPECT_EQ(keys(layer->named_parameters()), (std::vector<std::string>{"weight"}));
  EXPECT_EQ(keys(layer->named_buffers()),
            (std::vector<std::string>{"qweight", "qweight_scale", "bias"}));
}

TEST(BitLinearTest, EvalAfterAnOptimizerStepRepacks) {
  torch::manual_seed(1);
  BitLinear layer = make_layer(16, 8, "ai8pc_wpc");
  const torch::Tensor x = torch::randn({4, 16});
  layer->eval();
  const torch::Tensor before = layer(x);
  const torch::Tensor packed_before = layer->qweight.clone();

  layer->train();
  torch::optim::SGD sgd(layer->parameters(), torch::optim::SGDOptions(5.0));
  sgd.zero_grad();
  (layer(x) * torch::randn({4, 8})).sum().backward();
  sgd.step();

  layer->eval();
  const torch::Tensor after = layer(x);
  EXPECT_FALSE(torch::equal(layer->qweight, packed_before));  // repacked from the new weight
  layer->train();
  const torch::Tensor train_after = layer(x).detach();
  EXPECT_TRUE(torch::allclose(after, train_after, 1e-4, 1e-5));
  EXPECT_FALSE(torch::allclose(after, before));
}

TEST(BitLinearTest, EvalModeWeightChangesRepack) {
  BitLinear layer = make_layer(16, 8, "ai8pc_wpt");
  const torch::Tensor x = torch::randn({4, 16});
  layer->eval();
  layer(x);
  {
    torch::NoGradGuard no_grad;
    layer->weight.copy_(torch::randn({8, 16}));  // as a state-dict load does
  }
  const torch::Tensor eval = layer(x);
  layer->train();
  EXPECT_TRUE(torch::allclose(eval, layer(x).detach(), 1e-4, 1e-5));
  layer->eval();
  layer->weight.set_data(torch::randn({8, 16}));  // a new storage
  const torch::Tensor eval2 = layer(x);
  layer->train();
  EXPECT_TRUE(torch::allclose(eval2, layer(x).detach(), 1e-4, 1e-5));
}

TEST(BitLinearTest, DeployFreesTheWeightAndIsFinal) {
  BitLinear layer = make_layer(32, 16, "ai8pc_wpt");
  layer->deploy();
  EXPECT_TRUE(layer->is_deployed());
  EXPECT_FALSE(layer->is_training());
  EXPECT_EQ(layer->weight.numel(), 0);
  EXPECT_EQ(layer->qweight.sizes(), (std::vector<int64_t>{16, 8}));
  // The bias is a buffer now, the same tensor under the same state-dict key.
  EXPECT_FALSE(layer->named_parameters().contains("bias"));
  ASSERT_TRUE(layer->named_buffers().contains("bias"));
  EXPECT_TRUE(layer->named_buffers()["bias"].is_same(layer->bias));
  EXPECT_FALSE(layer->bias.requires_grad());
  const torch::Tensor x = torch::randn({3, 32});
  const torch::Tensor y = layer(x);
  layer->deploy();  // a no-op
  EXPECT_TRUE(torch::equal(layer(x), y));
  try {
    layer->train();
    FAIL() << "train() after deploy() must throw";
  } catch (const BitLabError& e) {
    EXPECT_THAT(e.what(), HasSubstr("train() after deploy()"));
  }
  EXPECT_NO_THROW(layer->eval());
}

TEST(BitLinearTest, DeployAfterAnOptimizerStepUsesTheNewWeights) {
  torch::manual_seed(3);
  BitLinear layer = make_layer(16, 8, "ai8pc_wpc");
  const torch::Tensor x = torch::randn({4, 16});
  layer->eval();
  layer(x);  // packs
  layer->train();
  torch::optim::SGD sgd(layer->parameters(), torch::optim::SGDOptions(5.0));
  (layer(x) * torch::randn({4, 8})).sum().backward();
  sgd.step();
  const torch::Tensor train = layer(x).detach();
  layer->deploy();
  EXPECT_TRUE(torch::allclose(layer(x), train, 1e-4, 1e-5));
  // A clone of a deployed layer is deployed and computes the same.
  auto copy = std::dynamic_pointer_cast<BitLinearImpl>(layer->clone());
  ASSERT_TRUE(copy);
  EXPECT_TRUE(copy->is_deployed());
  EXPECT_TRUE(copy->named_buffers().contains("bias"));
  EXPECT_FALSE(copy->bias.is_same(layer->bias));  // a copy, not shared
  EXPECT_TRUE(torch::equal(copy->forward(x), layer(x)));
}

TEST(BitLinearTest, EvalRepacksWhenTheWeightGranularityChanges) {
  BitLinear layer = make_layer(16, 8, "ai8pc_wpt");
  const torch::Tensor x = torch::randn({4, 16});
  layer->eval();
  layer(x);
  EXPECT_EQ(layer->qweight_scale.numel(), 1);
  layer->options.quant_config(BitQuantConfig::from_string("ai8pc_wpc"));
  const torch::Tensor eval = layer(x);
  EXPECT_EQ(layer->qweight_scale.numel(), 8);
  layer->train();
  EXPECT_TRUE(torch::allclose(eval, layer(x).detach(), 1e-4, 1e-5));
}

TEST(BitLinearTest, StateRoundTripsInEveryMode) {
  torch::manual_seed(2);
  const torch::Tensor x = torch::randn({5, 24});
  for (int mode = 0; mode < 3; ++mode) {  // train, eval, deployed
    BitLinear source = make_layer(24, 10, "ai8pc_wpt");
    BitLinear target = make_layer(24, 10, "ai8pc_wpt");
    if (mode >= 1) {
      source->eval();
      target->eval();
      source(x);  // packs
    }
    if (mode == 2) {
      source->deploy();
      target->deploy();
    }
    torch::NoGradGuard no_grad;
    for (const auto& item : source->named_parameters()) {
      target->named_parameters()[item.key()].copy_(item.value());
    }
    for (const auto& item : source->named_buffers()) {
      torch::Tensor destination = target->named_buffers()[item.key()];
      if (destination.sizes() != item.value().sizes()) {
        destination.set_data(item.value().clone());
      } else {
        destination.copy_(item.value());
      }
    }
    EXPECT_TRUE(torch::equal(target(x), source(x))) << "mode " << mode;
  }
}

TEST(BitLinearTest, DeployedCheckpointLoadsIntoAFreshLayer) {
  torch::manual_seed(9);
  BitLinear source = make_layer(24, 10, "ai8pt_wpc");
  source->deploy();
  std::stringstream checkpoint;
  torch::save(source, checkpoint);
  BitLinear target = make_layer(24, 10, "ai8pt_wpc");
  torch::load(target, checkpoint);
  EXPECT_TRUE(target->is_deployed());
  EXPECT_FALSE(target->named_parameters().contains("bias"));
  EXPECT_TRUE(target->named_buffers().contains("bias"));
  const torch::Tensor x = torch::randn({3, 24});
  EXPECT_TRUE(torch::equal(target(x), source(x)));  // even though target is in training mode
  EXPECT_THROW(target->train(), BitLabError);
}

TEST(BitLinearTest, FromLinearCopiesWeights) {
  torch::nn::Linear linear(torch::nn::LinearOptions(12, 6));
  BitLinear layer(BitLinearImpl::from_linear(linear, BitQuantConfig::from_string("af32_wpc")));
  EXPECT_TRUE(torch::equal(layer->weight, linear->weight));
  EXPECT_TRUE(torch::equal(layer->bias, linear->bias));
  std::ostringstream printed;
  layer->pretty_print(printed);
  EXPECT_EQ(printed.str(),
            "bitlab::BitLinear(in_features=12, out_features=6, bias=true, quant=af32_wpc, "
            "deployed=false)");
}

TEST(BitLinearTest, BadInputIsNamed) {
  BitLinear layer = make_layer(8, 4, "ai8pc_wpt");
  for (bool training : {true, false}) {
    layer->train(training);
    try {
      layer(torch::randn({2, 7}));
      FAIL();
    } catch (const ShapeError& e) {
      EXPECT_THAT(e.what(), HasSubstr("its last dimension is 7, expected in_features = 8"));
    }
  }
  EXPECT_THROW(BitLinear(0, 4), BitLabError);
}

}  // namespace
}  // namespace bitlab
