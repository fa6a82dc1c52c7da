// The numerics contract (docs/numerics.md), point by point.
#include "bitcore/quantization.h"

#include <cmath>
#include <vector>

#include <ATen/Parallel.h>
#include <ATen/TensorOperators.h>
#include <ATen/ops/allclose.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/tensor.h>
#include <ATen/ops/zeros.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "bitcore/errors.h"

namespace bitlab {
namespace {

using ::testing::HasSubstr;

BitQuantConfig config_for(Granularity weights, Granularity activations) {
  BitQuantConfig config;
  config.weight_granularity = weights;
  config.activation_granularity = activations;
  return config;
}

std::vector<int> values(const at::Tensor& t) {
  const at::Tensor flat = t.to(at::kInt).contiguous().view(-1);
  return std::vector<int>(flat.data_ptr<int>(), flat.data_ptr<int>() + flat.numel());
}

TEST(WeightScaleTest, PerTensorIsAbsMean) {
  const at::Tensor w = at::tensor({1.0f, -2.0f, 3.0f, -4.0f}).reshape({2, 2});
  const at::Tensor g = weight_scale(w, Granularity::kPerTensor, 1e-5f);
  EXPECT_EQ(g.sizes(), (std::vector<int64_t>{1}));
  EXPECT_EQ(g.scalar_type(), at::kFloat);
  EXPECT_FLOAT_EQ(g.item<float>(), 2.5f);
}

TEST(WeightScaleTest, PerChannelIsAbsMeanPerOutputRow) {
  const at::Tensor w = at::tensor({1.0f, -2.0f, 3.0f, -4.0f}).reshape({2, 2});
  const at::Tensor g = weight_scale(w, Granularity::kPerChannel, 1e-5f);
  EXPECT_EQ(g.sizes(), (std::vector<int64_t>{2}));
  EXPECT_FLOAT_EQ(g[0].item<float>(), 1.5f);
  EXPECT_FLOAT_EQ(g[1].item<float>(), 3.5f);
  // A conv weight (out, in, kh, kw): one scale per output channel over everything else.
  const at::Tensor conv = at::randn({5, 3, 3, 3});
  const at::Tensor gc = weight_scale(conv, Granularity::kPerChannel, 1e-5f);
  EXPECT_EQ(gc.sizes(), (std::vector<int64_t>{5}));
  EXPECT_TRUE(at::allclose(gc, conv.abs().reshape({5, -1}).mean(1)));
}

TEST(WeightScaleTest, IsTheAbsMeanForAnySizeAndThreadCount) {
  at::manual_seed(3);
  for (int64_t cols : {1, 15, 16, 17, 100, 70000, 200003}) {
    const at::Tensor w = at::randn({3, cols});
    const at::Tensor expected = w.to(at::kDouble).abs().mean(1).to(at::kFloat);
    const at::Tensor per_channel = weight_scale(w, Granularity::kPerChannel, 1e-5f);
    EXPECT_TRUE(at::allclose(per_channel, expected, 1e-6, 0)) << cols;
    const at::Tensor per_tensor = weight_scale(w, Granularity::kPerTensor, 1e-5f);
    EXPECT_TRUE(at::allclose(per_tensor, w.to(at::kDouble).abs().mean().to(at::kFloat), 1e-6, 0));
    // Chunked sums are added in a fixed order: the thread count cannot change a bit.
    const int threads = at::get_num_threads();
    at::set_num_threads(1);
    EXPECT_TRUE(at::equal(weight_scale(w, Granularity::kPerTensor, 1e-5f), per_tensor)) << cols;
    at::set_num_threads(threads);
  }
}

TEST(WeightScaleTest, EpsIsTheFloor) {
  const at::Tensor tiny = at::full({3, 4}, 1e-9f);
  EXPECT_FLOAT_EQ(weight_scale(tiny, Granularity::kPerTensor, 1e-5f).item<float>(), 1e-5f);
  EXPECT_FLOAT_EQ(weight_scale(tiny, Granularity::kPerTensor, 1e-12f).item<float>(), 1e-9f);
  const at::Tensor mixed = at::tensor({0.0f, 0.0f, 2.0f, 2.0f}).reshape({2, 2});
  const at::Tensor g = weight_scale(mixed, Granularity::kPerChannel, 1e-3f);
  EXPECT_FLOAT_EQ(g[0].item<float>(), 1e-3f);
  EXPECT_FLOAT_EQ(g[1].item<float>(), 2.0f);
}

TEST(QuantizeWeightTest, RoundsHalfToEvenThenClips) {
  // Row mean |W| = 2, so W / g = {1, -1, .5, -.5, 1.5, -1.5, 2.5, .25}. Half to even sends
  // .5 and -.5 to 0 (away-from-zero rounding would give +-1); 1.5 and 2.5 clip to 1.
  const at::Tensor w =
      at::tensor({2.0f, -2.0f, 1.0f, -1.0f, 3.0f, -3.0f, 5.0f, 0.5f + 0.0f}).reshape({1, 8});
  // mean = (2+2+1+1+3+3+5+0.5)/8 = 2.1875; use per-channel config with that exact mean.
  const BitQuantConfig config = config_for(Granularity::kPerChannel, Granularity::kPerChannel);
  const QuantizedTensor q = quantize_weight(w, config);
  const float g = q.scale.item<float>();
  EXPECT_FLOAT_EQ(g, 2.1875f);
  std::vector<int> expected;
  for (float v : {2.0f, -2.0f, 1.0f, -1.0f, 3.0f, -3.0f, 5.0f, 0.5f}) {
    expected.push_back(static_cast<int>(std::fmax(-1.0f, std::fmin(1.0f, std::nearbyint(v / g)))));
  }
  EXPECT_EQ(values(q.values), expected);
  EXPECT_EQ(q.values.scalar_type(), at::kChar);

  // Exact ties: mean |W| = 2 and W / g hits +-0.5 and 2.5 exactly.
  const at::Tensor ties = at::tensor({1.0f, -1.0f, 5.0f, 1.0f}).reshape({1, 4});  // mean 2
  const QuantizedTensor qt = quantize_weight(ties, config);
  ASSERT_FLOAT_EQ(qt.scale.item<float>(), 2.0f);
  EXPECT_EQ(values(qt.values), (std::vector<int>{0, 0, 1, 0}));
}

TEST(QuantizeWeightTest, AllZeroWeightsQuantizeToZeroWithEpsScale) {
  const BitQuantConfig config;
  const QuantizedTensor q = quantize_weight(at::zeros({3, 5}), config);
  EXPECT_TRUE(at::equal(q.values, at::zeros({3, 5}, at::kChar)));
  EXPECT_FLOAT_EQ(q.scale.item<float>(), config.eps);
}

TEST(QuantizeWeightTest, DequantizeIsScaleTimesTernary) {
  const at::Tensor w = at::randn({6, 10});
  for (Granularity g : {Granularity::kPerTensor, Granularity::kPerChannel}) {
    const QuantizedTensor q = quantize_weight(w, config_for(g, Granularity::kPerChannel));
    const at::Tensor w_hat = dequantize_weight(q.values, q.scale);
    const at::Tensor expected = q.values.to(at::kFloat) *
                                (g == Granularity::kPerChannel ? q.scale.reshape({6, 1}) : q.scale);
    EXPECT_TRUE(at::equal(w_hat, expected));
    EXPECT_LE(q.values.abs().max().item<int>(), 1);
  }
}

TEST(QuantizeWeightTest, BadInputNamesTheProblem) {
  try {
    quantize_weight(at::zeros({0, 4}), BitQuantConfig());
    FAIL();
  } catch (const ShapeError& e) {
    EXPECT_THAT(e.what(), HasSubstr("weight has shape [0, 4], expected at least one element"));
  }
  try {
    quantize_weight(at::zeros({2, 2}, at::kInt), BitQuantConfig());
    FAIL();
  } catch (const ShapeError& e) {
    EXPECT_THAT(e.what(), HasSubstr("weight has dtype Int, expected a floating-point tensor"));
  }
  try {
    dequantize_weight(at::zeros({3, 2}, at::kChar), at::ones({2}));
    FAIL();
  } catch (const ShapeError& e) {
    EXPECT_THAT(e.what(), HasSubstr("scale has shape [2], expected [1] or [3]"));
  }
}

TEST(ActivationScaleTest, ShapesPerTensorAndPerToken) {
  const at::Tensor x = at::randn({2, 3, 7});
  EXPECT_EQ(activation_scale(x, Granularity::kPerTensor, 1e-5f).sizes(), (std::vector<int64_t>{1}));
  const at::Tensor s = activation_scale(x, Granularity::kPerChannel, 1e-5f);
  EXPECT_EQ(s.sizes(), (std::vector<int64_t>{2, 3, 1}));
  EXPECT_TRUE(at::equal(s, x.abs().amax(-1, true) / 127.0f));
  EXPECT_FLOAT_EQ(activation_scale(x, Granularity::kPerTensor, 1e-5f).item<float>(),
                  x.abs().max().item<float>() / 127.0f);
}

TEST(QuantizeXTest, RoundsHalfToEvenWithTheMultiplyByR) {
  // absmax 127 gives r = 1 exactly: x * r is x, so the ties are exact.
  const at::Tensor x = at::tensor({127.0f, 0.5f, 1.5f, 2.5f, -0.5f, -2.5f, -126.5f, 3.49f});
  BitQuantConfig config = config_for(Granularity::kPerTensor, Granularity::kPerTensor);
  const QuantizedTensor q = quantize_x(x, config);
  EXPECT_EQ(values(q.values), (std::vector<int>{127, 0, 2, 2, 0, -2, -126, 3}));
  EXPECT_FLOAT_EQ(q.scale.item<float>(), 1.0f);
}

TEST(QuantizeXTest, MatchesTheContractElementByElement) {
  at::manual_seed(11);
  const at::Tensor x = at::randn({4, 5, 33}) * 3.0f;
  for (Granularity g : {Granularity::kPerTensor, Granularity::kPerChannel}) {
    BitQuantConfig config = config_for(Granularity::kPerTensor, g);
    const QuantizedTensor q = quantize_x(x, config);
    EXPECT_EQ(q.values.sizes(), x.sizes());
    const at::Tensor rows = x.reshape({-1, 33});
    const at::Tensor q_rows = q.values.reshape({-1, 33});
    const float global_absmax = x.abs().max().item<float>();
    for (int64_t m = 0; m < rows.size(0); ++m) {
      const float absmax =
          g == Granularity::kPerChannel ? rows[m].abs().max().item<float>() : global_absmax;
      const float clipped = std::fmax(absmax, config.eps);
      const float r = 127.0f / clipped;
      for (int64_t k = 0; k < 33; ++k) {
        const float v = std::nearbyint(rows[m][k].item<float>() * r);
        const int expected = static_cast<int>(std::fmin(127.0f, std::fmax(-127.0f, v)));
        ASSERT_EQ(q_rows[m][k].item<int>(), expected) << "row " << m << " col " << k;
      }
      const float scale = g == Granularity::kPerChannel ? q.scale.reshape({-1})[m].item<float>()
                                                        : q.scale.item<float>();
      ASSERT_EQ(scale, clipped / 127.0f) << "row " << m;
    }
  }
}

TEST(QuantizeXTest, ZeroRowsGiveZerosAndEpsScale) {
  const BitQuantConfig config;  // per token
  at::Tensor x = at::randn({3, 8});
  x[1].zero_();
  const QuantizedTensor q = quantize_x(x, config);
  EXPECT_TRUE(at::equal(q.values[1], at::zeros({8}, at::kChar)));
  EXPECT_FLOAT_EQ(q.scale[1].item<float>(), config.eps / 127.0f);
  // Dequantization error is at most half a step per element.
  const at::Tensor err = (dequantize_x(q.values, q.scale) - x).abs();
  EXPECT_TRUE((err <= q.scale * 0.5f + 1e-7f).all().item<bool>());
}

TEST(QuantizeXTest, EmptyBatchIsFine) {
  const QuantizedTensor q = quantize_x(at::zeros({0, 4}), BitQuantConfig());
  EXPECT_EQ(q.values.sizes(), (std::vector<int64_t>{0, 4}));
  const QuantizedTensor t =
      quantize_x(at::zeros({0, 4}), config_for(Granularity::kPerTensor, Granularity::kPerTensor));
  EXPECT_FLOAT_EQ(t.scale.item<float>(), 1e-5f / 127.0f);
}

TEST(FakeQuantizeTest, EqualsTheRoundTripBitForBit) {
  at::manual_seed(21);
  for (const char* name : {"ai8pt_wpt", "ai8pc_wpc"}) {
    const BitQuantConfig config = BitQuantConfig::from_string(name);
    for (const std::vector<int64_t>& shape :
         std::vector<std::vector<int64_t>>{{7, 13}, {300, 64}, {5, 3, 3, 3}, {1, 1}}) {
      at::Tensor w = at::randn(shape);
      w.view(-1)[0] = 0.0f;  // zeros and tiny values round to +0 on both paths
      if (w.numel() > 1) w.view(-1)[1] = -1e-9f;
      const QuantizedTensor q = quantize_weight(w, config);
      const at::Tensor expected = dequantize_weight(q.values, q.scale);
      const at::Tensor actual = fake_quantize_weight(w, config);
      EXPECT_TRUE(at::equal(actual, expected)) << name;
      EXPECT_FALSE(actual.signbit().logical_and(actual == 0).any().item<bool>()) << name;
    }
    for (const std::vector<int64_t>& shape :
         std::vector<std::vector<int64_t>>{{4, 33}, {2, 3, 100}, {1, 5000}, {0, 8}}) {
      const at::Tensor x = at::randn(shape) * 3.0f;
      const QuantizedTensor q = quantize_x(x, config);
      EXPECT_TRUE(at::equal(fake_quantize_x(x, config), dequantize_x(q.values, q.scale))) << name;
    }
  }
}

}  // namespace
}  // namespace bitlab
