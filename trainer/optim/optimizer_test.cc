// make_optimizer: SGD (momentum, Nesterov) and AdamW updates against the published update
// rules computed by hand, the decay / no-decay param groups, and get_lr / set_lr.
#include "trainer/optim/optimizer.h"

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/optim/adamw.h>
#include <torch/optim/optimizer.h>
#include <torch/optim/sgd.h>

#include "bitcore/errors.h"
#include "bitlayers/bit_linear.h"
#include "bitlayers/bit_norm.h"
#include "gtest/gtest.h"
#include "trainer/optim/training_config.h"

namespace bitlab {
namespace trainer {
namespace {

// A model of hand-set float64 parameters: `weight` [1, 2] (decays) and `bias` [1] (does not).
struct TwoParams : torch::nn::Module {
  TwoParams() {
    weight = register_parameter("weight", torch::tensor({{1.0, 2.0}}, torch::kDouble));
    bias = register_parameter("bias", torch::tensor({0.5}, torch::kDouble));
  }
  torch::Tensor weight;
  torch::Tensor bias;
};

void set_grads(TwoParams& model, std::vector<double> weight_grad, double bias_grad) {
  model.weight.mutable_grad() = torch::tensor(weight_grad, torch::kDouble).view({1, 2});
  model.bias.mutable_grad() = torch::tensor({bias_grad}, torch::kDouble);
}

std::vector<double> values(const torch::Tensor& t) {
  const torch::Tensor flat = t.detach().contiguous().view(-1);
  return std::vector<double>(flat.data_ptr<double>(), flat.data_ptr<double>() + flat.numel());
}

void expect_near(const torch::Tensor& actual, const std::vector<double>& expected, double tol) {
  const std::vector<double> got = values(actual);
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], expected[i], tol) << "index " << i;
}

OptimizerConfig sgd(double momentum, bool nesterov) {
  OptimizerConfig config;
  config.name = "sgd";
  config.lr = 0.1;
  config.weight_decay = 0;
  config.momentum = momentum;
  config.nesterov = nesterov;
  return config;
}

// Gradients of the three steps of the SGD tests, for the weight's two elements.
const std::vector<std::vector<double>> kSgdGrads = {{1, -2}, {0.5, 1}, {-1, 0}};

TEST(MakeOptimizerTest, SgdWithMomentum) {
  // buf_t = momentum * buf_{t-1} + g_t (buf_1 = g_1);  p_t = p_{t-1} - lr * buf_t.
  //   buf1 = (1, -2)              p1 = (1 - 0.1, 2 + 0.2)           = (0.9, 2.2)
  //   buf2 = (0.9 + 0.5, -1.8 + 1) = (1.4, -0.8)
  //                               p2 = (0.9 - 0.14, 2.2 + 0.08)     = (0.76, 2.28)
  //   buf3 = (1.26 - 1, -0.72 + 0) = (0.26, -0.72)
  //                               p3 = (0.76 - 0.026, 2.28 + 0.072) = (0.734, 2.352)
  TwoParams model;
  auto optimizer = make_optimizer(model, sgd(0.9, false));
  const std::vector<std::vector<double>> expected = {{0.9, 2.2}, {0.76, 2.28}, {0.734, 2.352}};
  for (size_t step = 0; step < 3; ++step) {
    set_grads(model, kSgdGrads[step], 0);
    optimizer->step();
    expect_near(model.weight, expected[step], 1e-12);
  }
}

TEST(MakeOptimizerTest, SgdWithNesterovMomentum) {
  // Same buffers as above; the update uses d_t = g_t + momentum * buf_t.
  //   d1 = (1 + 0.9, -2 - 1.8)       = (1.9, -3.8)     p1 = (0.81, 2.38)
  //   d2 = (0.5 + 1.26, 1 - 0.72)    = (1.76, 0.28)    p2 = (0.634, 2.352)
  //   d3 = (-1 + 0.234, 0 - 0.648)   = (-0.766, -0.648)
  //                                                    p3 = (0.7106, 2.4168)
  TwoParams model;
  auto optimizer = make_optimizer(model, sgd(0.9, true));
  const std::vector<std::vector<double>> expected = {
      {0.81, 2.38}, {0.634, 2.352}, {0.7106, 2.4168}};
  for (size_t step = 0; step < 3; ++step) {
    set_grads(model, kSgdGrads[step], 0);
    optimizer->step();
    expect_near(model.weight, expected[step], 1e-12);
  }
}

TEST(MakeOptimizerTest, SgdWeightDecayOnWeightsOnly) {
  // L2 decay: d = g + weight_decay * p on the weight; the bias steps by its gradient alone.
  TwoParams model;
  OptimizerConfig config = sgd(0, false);
  config.weight_decay = 0.5;
  auto optimizer = make_optimizer(model, config);
  set_grads(model, {1, -2}, 3);
  optimizer->step();
  // weight: (1 - 0.1 * (1 + 0.5 * 1), 2 - 0.1 * (-2 + 0.5 * 2)) = (0.85, 2.1)
  expect_near(model.weight, {0.85, 2.1}, 1e-12);
  // bias: 0.5 - 0.1 * 3
  expect_near(model.bias, {0.2}, 1e-12);
}

TEST(MakeOptimizerTest, AdamWWithDecoupledWeightDecay) {
  // AdamW (Loshchilov & Hutter; torch.optim.AdamW), per element, t = 1, 2, ...:
  //   p <- p * (1 - lr * weight_decay)        (weight only; the bias has weight_decay 0)
  //   m <- beta1 * m + (1 - beta1) * g
  //   v <- beta2 * v + (1 - beta2) * g^2
  //   p <- p - lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)
  const double lr = 0.1, wd = 0.01, beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  TwoParams model;
  OptimizerConfig config;  // adamw
  config.lr = lr;
  config.weight_decay = wd;
  auto optimizer = make_optimizer(model, config);

  const std::vector<std::vector<double>> grads = {{1, -2, 3}, {0.5, 1, -1}, {-2, 0.25, 0}};
  std::vector<double> p = {1, 2, 0.5};  // weight[0], weight[1], bias
  std::vector<double> m(3, 0), v(3, 0);
  for (int t = 1; t <= 3; ++t) {
    const std::vector<double>& g = grads[t - 1];
    set_grads(model, {g[0], g[1]}, g[2]);
    optimizer->step();
    for (int i = 0; i < 3; ++i) {
      if (i < 2) p[i] *= 1 - lr * wd;
      m[i] = beta1 * m[i] + (1 - beta1) * g[i];
      v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i];
      const double m_hat = m[i] / (1 - std::pow(beta1, t));
      const double v_hat = v[i] / (1 - std::pow(beta2, t));
      p[i] -= lr * m_hat / (std::sqrt(v_hat) + eps);
    }
    expect_near(model.weight, {p[0], p[1]}, 1e-12);
    expect_near(model.bias, {p[2]}, 1e-12);
    if (t == 1) {
      // The first step moves each element by lr against the sign of its gradient (m_hat = g,
      // sqrt(v_hat) = |g|), after the decay: weight (0.999 - 0.1, 1.998 + 0.1), bias 0.5 - 0.1.
      expect_near(model.weight, {0.899, 2.098}, 1e-8);
      expect_near(model.bias, {0.4}, 1e-8);
    }
  }
}

// Linear -> BatchNorm -> Embedding-like table -> LayerNorm over two dims -> BitRMSNorm, with
// a frozen weight, an empty trainable parameter and a deployed BitLinear.
struct MixedModel : torch::nn::Module {
  MixedModel() {
    linear = register_module("linear", torch::nn::Linear(3, 4));
    bn = register_module("bn", torch::nn::BatchNorm1d(4));
    embedding = register_module("embedding", torch::nn::Embedding(10, 4));
    layer_norm =
        register_module("layer_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({2, 2})));
    rms_norm = register_module("rms_norm", BitRMSNorm(4));
    frozen = register_module("frozen", torch::nn::Linear(4, 4));
    frozen->weight.set_requires_grad(false);
    frozen->bias.set_requires_grad(false);
    deployed = register_module("deployed", BitLinear(8, 4));
    deployed->deploy();
    empty = register_parameter("empty", torch::empty({0}));
  }
  torch::nn::Linear linear{nullptr};
  torch::nn::BatchNorm1d bn{nullptr};
  torch::nn::Embedding embedding{nullptr};
  torch::nn::LayerNorm layer_norm{nullptr};
  BitRMSNorm rms_norm{nullptr};
  torch::nn::Linear frozen{nullptr};
  BitLinear deployed{nullptr};
  torch::Tensor empty;
};

// Whether `group` holds exactly `expected`, in order (the same tensors, not equal values).
void expect_params(const torch::optim::OptimizerParamGroup& group,
                   const std::vector<torch::Tensor>& expected) {
  ASSERT_EQ(group.params().size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_TRUE(group.params()[i].is_same(expected[i])) << "param " << i;
  }
}

TEST(MakeOptimizerTest, WeightDecayOnlyOnWeightsOutsideNorms) {
  for (const char* name : {"adamw", "sgd"}) {
    SCOPED_TRACE(name);
    auto model = std::make_shared<MixedModel>();
    OptimizerConfig config;
    config.name = name;
    config.weight_decay = 0.05;
    auto optimizer = make_optimizer(*model, config);
    ASSERT_EQ(optimizer->param_groups().size(), 2u);
    const auto& decay = optimizer->param_groups()[0];
    const auto& no_decay = optimizer->param_groups()[1];
    // The LayerNorm's weight is 2-D but belongs to a norm; the frozen Linear, the empty
    // parameter and the deployed BitLinear's freed weight are left out.
    expect_params(decay, {model->linear->weight, model->embedding->weight});
    expect_params(no_decay,
                  {model->linear->bias, model->bn->weight, model->bn->bias,
                   model->layer_norm->weight, model->layer_norm->bias, model->rms_norm->weight});
    if (std::string(name) == "adamw") {
      EXPECT_EQ(static_cast<const torch::optim::AdamWOptions&>(decay.options()).weight_decay(),
                0.05);
      EXPECT_EQ(static_cast<const torch::optim::AdamWOptions&>(no_decay.options()).weight_decay(),
                0);
    } else {
      EXPECT_EQ(static_cast<const torch::optim::SGDOptions&>(decay.options()).weight_decay(), 0.05);
      EXPECT_EQ(static_cast<const torch::optim::SGDOptions&>(no_decay.options()).weight_decay(), 0);
    }
  }
}

TEST(MakeOptimizerTest, LinearAndBatchNormSequential) {
  torch::nn::Sequential model(torch::nn::Linear(3, 4), torch::nn::BatchNorm1d(4));
  auto optimizer = make_optimizer(*model, OptimizerConfig());
  const auto linear = model[0]->as<torch::nn::Linear>();
  const auto bn = model[1]->as<torch::nn::BatchNorm1d>();
  ASSERT_EQ(optimizer->param_groups().size(), 2u);
  expect_params(optimizer->param_groups()[0], {linear->weight});
  expect_params(optimizer->param_groups()[1], {linear->bias, bn->weight, bn->bias});
}

TEST(MakeOptimizerTest, SharedModuleParametersAppearOnce) {
  struct Shared : torch::nn::Module {
    Shared() {
      a = register_module("a", torch::nn::Linear(2, 2));
      b = register_module("b", a);  // the same module twice (tied weights)
    }
    torch::nn::Linear a{nullptr}, b{nullptr};
  };
  Shared model;
  auto optimizer = make_optimizer(model, OptimizerConfig());
  expect_params(optimizer->param_groups()[0], {model.a->weight});
  expect_params(optimizer->param_groups()[1], {model.a->bias});
}

TEST(MakeOptimizerTest, OnlyNoDecayParametersGiveOneGroup) {
  torch::nn::LayerNorm model(torch::nn::LayerNormOptions({4}));
  auto optimizer = make_optimizer(*model, OptimizerConfig());
  ASSERT_EQ(optimizer->param_groups().size(), 1u);
  expect_params(optimizer->param_groups()[0], {model->weight, model->bias});
}

TEST(MakeOptimizerTest, NoTrainableParametersThrows) {
  torch::nn::Linear model(2, 2);
  model->weight.set_requires_grad(false);
  model->bias.set_requires_grad(false);
  EXPECT_THROW(make_optimizer(*model, OptimizerConfig()), BitLabError);
}

TEST(MakeOptimizerTest, GetAndSetLrCoverEveryGroup) {
  TwoParams model;
  OptimizerConfig config;
  config.lr = 0.02;
  auto optimizer = make_optimizer(model, config);
  ASSERT_EQ(optimizer->param_groups().size(), 2u);
  EXPECT_EQ(get_lr(*optimizer), 0.02);
  set_lr(*optimizer, 0.005);
  EXPECT_EQ(get_lr(*optimizer), 0.005);
  for (const auto& group : optimizer->param_groups()) EXPECT_EQ(group.options().get_lr(), 0.005);
}

}  // namespace
}  // namespace trainer
}  // namespace bitlab
