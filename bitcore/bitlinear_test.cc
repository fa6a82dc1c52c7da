#include "bitcore/bitlinear.h"

#include <vector>

#include <ATen/Parallel.h>
#include <ATen/TensorOperators.h>
#include <ATen/ops/allclose.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/linear.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/sum.h>
#include <ATen/ops/zeros.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>

#include "bitcore/errors.h"
#include "bitcore/kernel_registry.h"
#include "bitcore/packing.h"
#include "bitcore/quantization.h"

namespace bitlab {
namespace {

using ::testing::HasSubstr;

const char* const kAllConfigs[] = {"ai8pt_wpt", "ai8pt_wpc", "ai8pc_wpt",
                                   "ai8pc_wpc", "af32_wpt",  "af32_wpc"};

// Input shapes (leading dims + K) and N, covering batch 1, 3-D inputs and K % 4 != 0.
struct Shape {
  std::vector<int64_t> x;
  int64_t n;
};
const Shape kShapes[] = {
    {{1, 16}, 8}, {{1, 1}, 3},       {{5, 7}, 9},    {{2, 3, 13}, 6},
    {{4, 30}, 1}, {{3, 2, 2, 5}, 4}, {{17, 64}, 33}, {{6}, 5},
};

std::vector<int64_t> output_shape(const Shape& s) {
  std::vector<int64_t> out = s.x;
  out.back() = s.n;
  return out;
}

TEST(BitLinearTest, TrainAndEvalAgreeOnEveryConfigAndShape) {
  at::manual_seed(2024);
  for (const char* name : kAllConfigs) {
    const BitQuantConfig config = BitQuantConfig::from_string(name);
    for (const Shape& s : kShapes) {
      const at::Tensor x = at::randn(s.x);
      const at::Tensor w = at::randn({s.n, s.x.back()});
      const at::Tensor b = at::randn({s.n});
      for (const at::Tensor& bias : {b, at::Tensor()}) {
        const at::Tensor train = bitlinear::forward(x, w, bias, config, /*training=*/true);
        const at::Tensor eval = bitlinear::forward(x, w, bias, config, /*training=*/false);
        EXPECT_EQ(train.sizes(), output_shape(s));
        EXPECT_EQ(eval.sizes(), output_shape(s));
        EXPECT_TRUE(at::allclose(eval, train, /*rtol=*/1e-4, /*atol=*/1e-5))
            << name << " x" << x.sizes() << " n=" << s.n << " max diff "
            << (eval - train).abs().max().item<float>();
      }
    }
  }
}

TEST(BitLinearTest, TrainingForwardIsLinearAtDequantizedValues) {
  at::manual_seed(5);
  const at::Tensor x = at::randn({3, 11});
  const at::Tensor w = at::randn({4, 11});
  const at::Tensor b = at::randn({4});
  for (const char* name : kAllConfigs) {
    const BitQuantConfig config = BitQuantConfig::from_string(name);
    const QuantizedTensor qw = quantize_weight(w, config);
    at::Tensor x_hat = x;
    if (config.activation_dtype == ActivationDtype::kInt8) {
      const QuantizedTensor qx = quantize_x(x, config);
      x_hat = dequantize_x(qx.values, qx.scale);
    }
    const at::Tensor expected = at::linear(x_hat, dequantize_weight(qw.values, qw.scale), b);
    EXPECT_TRUE(at::equal(bitlinear::fake_quant_linear(x, w, b, config), expected)) << name;
  }
}

TEST(BitLinearTest, StraightThroughGradientsAreThoseOfLinearAtDequantizedValues) {
  at::manual_seed(99);
  for (const char* name : kAllConfigs) {
    const BitQuantConfig config = BitQuantConfig::from_string(name);
    const at::Tensor x = at::randn({2, 3, 10}).requires_grad_();
    const at::Tensor w = at::randn({5, 10}).requires_grad_();
    const at::Tensor b = at::randn({5}).requires_grad_();
    const at::Tensor upstream = at::randn({2, 3, 5});
    const at::Tensor y = bitlinear::fake_quant_linear(x, w, b, config);
    const auto grads = torch::autograd::grad({(y * upstream).sum()}, {x, w, b});

    // The same loss through plain linear at the dequantized values, as leaves.
    const QuantizedTensor qw = quantize_weight(w.detach(), config);
    at::Tensor x_hat = x.detach().clone();
    if (config.activation_dtype == ActivationDtype::kInt8) {
      const QuantizedTensor qx = quantize_x(x.detach(), config);
      x_hat = dequantize_x(qx.values, qx.scale);
    }
    x_hat.requires_grad_();
    const at::Tensor w_hat = dequantize_weight(qw.values, qw.scale).requires_grad_();
    const at::Tensor b_ref = b.detach().clone().requires_grad_();
    const at::Tensor y_ref = at::linear(x_hat, w_hat, b_ref);
    const auto ref = torch::autograd::grad({(y_ref * upstream).sum()}, {x_hat, w_hat, b_ref});

    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(grads[i].sizes(), ref[i].sizes()) << name << " grad " << i;
      EXPECT_TRUE(at::allclose(grads[i], ref[i], 1e-5, 1e-6)) << name << " grad " << i;
    }
  }
}

TEST(BitLinearTest, NoBiasMeansNoBiasGradient) {
  const at::Tensor x = at::randn({2, 4}).requires_grad_();
  const at::Tensor w = at::randn({3, 4}).requires_grad_();
  const at::Tensor y = bitlinear::fake_quant_linear(x, w, at::Tensor(), BitQuantConfig());
  y.sum().backward();
  EXPECT_TRUE(x.grad().defined());
  EXPECT_TRUE(w.grad().defined());
}

TEST(BitLinearTest, AllZeroWeightsGiveExactlyTheBias) {
  const at::Tensor x = at::randn({4, 2, 9});
  const at::Tensor w = at::zeros({6, 9});
  const at::Tensor b = at::randn({6});
  for (const char* name : kAllConfigs) {
    const BitQuantConfig config = BitQuantConfig::from_string(name);
    for (bool training : {true, false}) {
      const at::Tensor y = bitlinear::forward(x, w, b, config, training);
      EXPECT_TRUE(at::equal(y, b.expand({4, 2, 6}))) << name << " training=" << training;
    }
  }
}

TEST(BitLinearTest, PreparedWeightsAreCanonicalT2) {
  const at::Tensor w = at::randn({7, 10});
  for (const char* name : {"ai8pc_wpt", "ai8pc_wpc"}) {
    const BitQuantConfig config = BitQuantConfig::from_string(name);
    const bitlinear::PreparedWeights p = bitlinear::prepare_weights(w, config);
    const QuantizedTensor q = quantize_weight(w, config);
    EXPECT_EQ(p.qweight.sizes(), (std::vector<int64_t>{7, 3}));
    EXPECT_EQ(p.qweight.scalar_type(), at::kByte);
    EXPECT_EQ(p.in_features, 10);
    EXPECT_EQ(p.out_features(), 7);
    EXPECT_TRUE(at::equal(unpack_t2(p.qweight, 10), q.values));
    EXPECT_TRUE(at::equal(p.qweight_scale, q.scale));
  }
}

TEST(BitLinearTest, EmptyBatchGivesEmptyOutput) {
  const at::Tensor w = at::randn({3, 5});
  for (const char* name : kAllConfigs) {
    const at::Tensor y = bitlinear::forward(at::zeros({0, 5}), w, at::Tensor(),
                                            BitQuantConfig::from_string(name), false);
    EXPECT_EQ(y.sizes(), (std::vector<int64_t>{0, 3}));
  }
}

template <typename Fn>
std::string shape_error(Fn fn) {
  try {
    fn();
  } catch (const ShapeError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a ShapeError";
  return "";
}

TEST(BitLinearTest, ThreadedQuantizationMatchesTheContract) {
  at::manual_seed(11);
  const int threads = at::get_num_threads();
  at::set_num_threads(2);  // the threaded paths run whatever this machine's default
  const BitKernel& kernel = KernelRegistry::get_kernel_for_config(BitQuantConfig());
  struct Case {
    const char* config;
    int64_t m, k;
  };
  // Enough values to split: rows among threads (per token), or pieces of one scale's values.
  for (const Case& c : {Case{"ai8pc_wpt", 96, 3000}, Case{"ai8pt_wpt", 96, 3000},
                        Case{"ai8pc_wpt", 1, 200003}, Case{"ai8pt_wpt", 3, 70001}}) {
    const char* config_name = c.config;
    const BitQuantConfig config = BitQuantConfig::from_string(config_name);
    const int64_t m = c.m;
    const int64_t k = c.k;
    const at::Tensor x = at::randn({m, k}) * at::randn({m, 1});
    at::Tensor q = at::empty({m, k}, at::kChar);
    const bool per_token = config.activation_granularity == Granularity::kPerChannel;
    at::Tensor scales = at::empty({per_token ? m : 1});
    at::Tensor sums = at::empty({m}, at::kInt);
    bitlinear::quantize_activations(kernel, x.data_ptr<float>(), m, k, config, q.data_ptr<int8_t>(),
                                    scales.data_ptr<float>(), sums.data_ptr<int32_t>());
    const QuantizedTensor expected = quantize_x(x, config);
    EXPECT_TRUE(at::equal(q, expected.values)) << config_name;
    EXPECT_TRUE(at::equal(scales, expected.scale.reshape({-1}))) << config_name;
    EXPECT_TRUE(at::equal(sums, q.sum(1, false, at::kInt))) << config_name;
  }
  at::set_num_threads(threads);
}

TEST(BitLinearTest, BadInputIsNamed) {
  const at::Tensor w = at::randn({3, 4});
  const BitQuantConfig config;
  for (bool training : {true, false}) {
    EXPECT_THAT(shape_error([&] {
                  bitlinear::forward(at::randn({2, 5}), w, {}, config, training);
                }),
                HasSubstr("input has shape [2, 5]; its last dimension is 5, expected "
                          "in_features = 4"));
    EXPECT_THAT(shape_error([&] {
                  bitlinear::forward(at::randn({2, 4}), w, at::randn({4}), config, training);
                }),
                HasSubstr("bias has shape [4], expected [3] (out_features)"));
    EXPECT_THAT(shape_error([&] {
                  bitlinear::forward(at::randn({2, 4}).to(at::kDouble), w, {}, config, training);
                }),
                HasSubstr("input has dtype Double, expected Float"));
    EXPECT_THAT(shape_error([&] {
                  bitlinear::forward(at::randn({2, 4}), at::randn({3, 4, 1}), {}, config, training);
                }),
                HasSubstr("weight has shape [3, 4, 1], expected 2 dimension(s)"));
  }
  bitlinear::PreparedWeights p = bitlinear::prepare_weights(w, config);
  p.in_features = 9;
  EXPECT_THAT(shape_error([&] {
                bitlinear::forward_prepared(at::randn({1, 9}), p, {}, config);
              }),
              HasSubstr("qweight has shape [3, 1], expected [3, 3] for in_features = 9"));
}

}  // namespace
}  // namespace bitlab
