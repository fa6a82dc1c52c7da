// Tests for BitRMSNorm / BitLayerNorm, BitMultiheadAttention and BitTransformerBlock.
#include "bitlayers/bit_attention.h"

#include <cmath>
#include <limits>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/any.h>
#include <torch/nn/modules/normalization.h>
#include <torch/serialize.h>
#include <torch/types.h>

#include "bitcore/errors.h"
#include "bitcore/quant_config.h"
#include "bitcore/quantization.h"
#include "bitlayers/bit_norm.h"
#include "bitlayers/bit_transformer.h"

namespace bitlab {
namespace {

using ::testing::HasSubstr;
using torch::Tensor;

constexpr double kInf = std::numeric_limits<double>::infinity();

BitQuantConfig quant(const char* compact) { return BitQuantConfig::from_string(compact); }

std::string max_diff(const Tensor& a, const Tensor& b) {
  if (a.sizes() != b.sizes()) return "(shapes differ)";
  return std::to_string((a - b).abs().max().item<double>());
}

#define EXPECT_CLOSE(a, b, rtol, atol)                                                          \
  do {                                                                                          \
    const Tensor expect_close_a = (a).detach();                                                 \
    const Tensor expect_close_b = (b).detach();                                                 \
    ASSERT_EQ(expect_close_a.sizes(), expect_close_b.sizes());                                  \
    EXPECT_TRUE(torch::allclose(expect_close_a, expect_close_b, (rtol), (atol)))                \
        << #a << " vs " << #b << ": max |diff| = " << max_diff(expect_close_a, expect_close_b); \
  } while (0)

// A message check that fails when nothing is thrown or the wrong type is.
template <typename Error, typename F>
void expect_error(F&& f, const std::string& substring) {
  try {
    f();
    ADD_FAILURE() << "expected an exception containing: " << substring;
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr(substring));
  }
}

// ---------------------------------------------------------------------------------------------
// Norms

TEST(BitRMSNormTest, MatchesTheFormula) {
  torch::manual_seed(0);
  BitRMSNorm norm(BitRMSNormOptions(8).eps(1e-5));
  {
    torch::NoGradGuard no_grad;
    norm->weight.copy_(torch::randn({8}));
  }
  const Tensor x = torch::randn({3, 4, 8}) * 3;
  const Tensor expected = x / torch::sqrt(x.pow(2).mean(-1, true) + 1e-5) * norm->weight;
  EXPECT_CLOSE(norm(x), expected, 1e-5, 1e-6);

  BitRMSNorm plain(BitRMSNormOptions(8).elementwise_affine(false));
  EXPECT_FALSE(plain->weight.defined());
  EXPECT_TRUE(plain->named_parameters().is_empty());
  EXPECT_CLOSE(plain(x), x / torch::sqrt(x.pow(2).mean(-1, true) + 1e-6), 1e-5, 1e-6);

  // float64 keeps its precision and dtype.
  const Tensor x64 = x.to(torch::kFloat64);
  const Tensor y64 = plain(x64);
  EXPECT_EQ(y64.scalar_type(), torch::kFloat64);
  EXPECT_TRUE(
      torch::allclose(y64, x64 / torch::sqrt(x64.pow(2).mean(-1, true) + 1e-6), 1e-12, 1e-12));

  std::ostringstream printed;
  norm->pretty_print(printed);
  EXPECT_EQ(printed.str(), "bitlab::BitRMSNorm(8, eps=1e-05, elementwise_affine=true)");
}

TEST(BitLayerNormTest, MatchesTorchLayerNorm) {
  torch::manual_seed(1);
  const Tensor x = torch::randn({5, 2, 12}) * 2 + 1;
  torch::nn::LayerNorm reference(torch::nn::LayerNormOptions({12}));
  BitLayerNorm norm(12);
  {
    torch::NoGradGuard no_grad;
    reference->weight.copy_(torch::randn({12}));
    reference->bias.copy_(torch::randn({12}));
    norm->weight.copy_(reference->weight);
    norm->bias.copy_(reference->bias);
  }
  EXPECT_CLOSE(norm(x), reference(x), 1e-6, 1e-6);

  torch::nn::LayerNorm plain_reference(
      torch::nn::LayerNormOptions({12}).elementwise_affine(false).eps(1e-3));
  BitLayerNorm plain(BitLayerNormOptions(12).elementwise_affine(false).eps(1e-3));
  EXPECT_CLOSE(plain(x), plain_reference(x), 1e-6, 1e-6);

  // Without bias: torch's LayerNorm with a zero bias.
  BitLayerNorm no_bias(BitLayerNormOptions(12).bias(false));
  EXPECT_FALSE(no_bias->bias.defined());
  {
    torch::NoGradGuard no_grad;
    no_bias->weight.copy_(reference->weight);
    reference->bias.zero_();
  }
  EXPECT_CLOSE(no_bias(x), reference(x), 1e-6, 1e-6);

  std::ostringstream printed;
  no_bias->pretty_print(printed);
  EXPECT_EQ(printed.str(),
            "bitlab::BitLayerNorm(12, eps=1e-05, elementwise_affine=true, bias=false)");
}

TEST(BitNormTest, BadInputIsNamed) {
  BitRMSNorm rms(8);
  BitLayerNorm ln(8);
  expect_error<ShapeError>(
      [&] {
        rms(torch::randn({2, 7}));
      },
      "BitRMSNorm: input has shape [2, 7], its last dimension is 7, expected "
      "normalized_shape = 8");
  expect_error<ShapeError>(
      [&] {
        ln(torch::randn({2, 7}));
      },
      "BitLayerNorm: input has shape [2, 7], its last dimension is 7, "
      "expected normalized_shape = 8");
  expect_error<ShapeError>(
      [&] {
        rms(torch::ones({2, 8}, torch::kInt32));
      },
      "BitRMSNorm: input has dtype Int, expected a floating-point tensor");
  expect_error<BitLabError>([] { BitRMSNorm(0); }, "normalized_shape must be positive, got 0");
  expect_error<BitLabError>([] { BitLayerNorm(-2); }, "normalized_shape must be positive, got -2");
}

// ---------------------------------------------------------------------------------------------
// BitMultiheadAttention

BitMultiheadAttention make_attention(int64_t embed_dim, int64_t num_heads, const char* config,
                                     bool bias = true, bool sub_norm = false, bool causal = false) {
  return BitMultiheadAttention(BitMultiheadAttentionOptions(embed_dim, num_heads)
                                   .bias(bias)
                                   .sub_norm(sub_norm)
                                   .causal(causal)
                                   .quant_config(quant(config)));
}

// A torch::nn::MultiheadAttention whose weights are `bit`'s fake-quantized weights: what `bit`
// computes in training with float32 activations.
torch::nn::MultiheadAttention fake_quantized_reference(const BitMultiheadAttention& bit) {
  const BitMultiheadAttentionOptions& o = bit->options;
  torch::nn::MultiheadAttention mha(
      torch::nn::MultiheadAttentionOptions(o.embed_dim(), o.num_heads()).bias(o.bias()));
  const BitQuantConfig& config = o.quant_config();
  torch::NoGradGuard no_grad;
  mha->in_proj_weight.copy_(torch::cat({fake_quantize_weight(bit->q_proj->weight, config),
                                        fake_quantize_weight(bit->k_proj->weight, config),
                                        fake_quantize_weight(bit->v_proj->weight, config)}));
  mha->out_proj->weight.copy_(fake_quantize_weight(bit->out_proj->weight, config));
  if (o.bias()) {
    mha->in_proj_bias.copy_(torch::cat({bit->q_proj->bias, bit->k_proj->bias, bit->v_proj->bias}));
    mha->out_proj->bias.copy_(bit->out_proj->bias);
  }
  return mha;
}

void randomize_biases(const BitMultiheadAttention& bit) {
  torch::NoGradGuard no_grad;
  for (const BitLinear* projection : {&bit->q_proj, &bit->k_proj, &bit->v_proj, &bit->out_proj}) {
    if ((*projection)->bias.defined()) (*projection)->bias.normal_(0, 0.5);
  }
}

TEST(BitMultiheadAttentionTest, MatchesTorchWithFakeQuantizedWeights) {
  torch::manual_seed(2);
  const int64_t E = 16, H = 4, L = 5, S = 7, N = 3;
  for (bool bias : {true, false}) {
    BitMultiheadAttention bit = make_attention(E, H, "af32_wpc", bias);
    randomize_biases(bit);
    torch::nn::MultiheadAttention reference = fake_quantized_reference(bit);
    ASSERT_TRUE(bit->is_training());

    const Tensor x = torch::randn({L, N, E});
    const Tensor query = torch::randn({L, N, E});
    const Tensor key = torch::randn({S, N, E});
    const Tensor value = torch::randn({S, N, E});
    // Self-attention (torch's fused in-projection), encoder-decoder (key == value), and three
    // different inputs.
    const std::vector<std::tuple<Tensor, Tensor, Tensor>> cases = {
        {x, x, x}, {query, key, key}, {query, key, value}};
    for (const auto& [q, k, v] : cases) {
      const auto [out, weights] = bit(q, k, v);
      const auto [ref_out, ref_weights] = reference(q, k, v);
      EXPECT_CLOSE(out, ref_out, 1e-4, 1e-5);
      EXPECT_CLOSE(weights, ref_weights, 1e-4, 1e-5);
      EXPECT_EQ(weights.sizes(), (std::vector<int64_t>{N, q.size(0), k.size(0)}));

      const auto [out_heads, weights_heads] = bit->forward(q, k, v, {}, true, {}, false);
      const auto [ref_out_heads, ref_weights_heads] =
          reference->forward(q, k, v, {}, true, {}, false);
      EXPECT_CLOSE(out_heads, ref_out_heads, 1e-4, 1e-5);
      EXPECT_CLOSE(weights_heads, ref_weights_heads, 1e-4, 1e-5);
      EXPECT_EQ(weights_heads.sizes(), (std::vector<int64_t>{N, H, q.size(0), k.size(0)}));

      const auto [out_only, no_weights] = bit->forward(q, k, v, {}, /*need_weights=*/false);
      EXPECT_FALSE(no_weights.defined());
      EXPECT_TRUE(torch::equal(out_only, out));
    }

    // Masks: a float (L, S) attn_mask with some -inf, and a key_padding_mask.
    Tensor attn_mask = torch::randn({L, S});
    attn_mask.index_put_({1, 3}, -kInf);
    attn_mask.index_put_({4, 0}, -kInf);
    Tensor padding = torch::zeros({N, S}, torch::kBool);
    padding.index_put_({0, 6}, true);
    padding.index_put_({2, 1}, true);
    padding.index_put_({2, 2}, true);
    const auto [out, weights] = bit->forward(query, key, value, padding, true, attn_mask);
    const auto [ref_out, ref_weights] =
        reference->forward(query, key, value, padding, true, attn_mask);
    EXPECT_CLOSE(out, ref_out, 1e-4, 1e-5);
    EXPECT_CLOSE(weights, ref_weights, 1e-4, 1e-5);
    EXPECT_EQ(weights.index({2, torch::indexing::Slice(), 1}).abs().max().item<float>(), 0.0f);
  }
}

TEST(BitMultiheadAttentionTest, MaskFormsAgree) {
  // libtorch 1.13's MultiheadAttention adds a bool attn_mask as 0 / 1 and rejects 3-D masks,
  // so the bool and (N * num_heads, L, S) forms are checked against the float (L, S) form.
  torch::manual_seed(3);
  const int64_t E = 8, H = 2, L = 4, S = 6, N = 2;
  BitMultiheadAttention bit = make_attention(E, H, "ai8pc_wpt");
  const Tensor query = torch::randn({L, N, E});
  const Tensor key = torch::randn({S, N, E});
  Tensor blocked = torch::rand({L, S}) < 0.4;
  blocked.index_put_({torch::indexing::Slice(), 0}, false);  // no row fully masked
  const Tensor additive = torch::zeros({L, S}).masked_fill(blocked, -kInf);
  const auto [from_float, float_weights] = bit->forward(query, key, key, {}, true, additive);
  const auto [from_bool, bool_weights] = bit->forward(query, key, key, {}, true, blocked);
  EXPECT_TRUE(torch::allclose(from_bool, from_float));
  EXPECT_TRUE(torch::allclose(bool_weights, float_weights));
  EXPECT_EQ(float_weights.masked_select(blocked.unsqueeze(0)).abs().max().item<float>(), 0.0f);
  const Tensor per_head = blocked.unsqueeze(0).expand({N * H, L, S}).contiguous();
  const auto [from_3d, weights_3d] = bit->forward(query, key, key, {}, true, per_head);
  EXPECT_TRUE(torch::allclose(from_3d, from_float));

  // A 3-D mask that differs between heads changes only the heads it masks.
  Tensor head_mask = torch::zeros({N * H, L, S}, torch::kBool);
  head_mask.index_put_({1, torch::indexing::Slice(), 2}, true);  // batch 0, head 1, key 2
  const auto [masked_out, masked_heads] = bit->forward(query, key, key, {}, true, head_mask, false);
  EXPECT_EQ(masked_heads.index({0, 1, torch::indexing::Slice(), 2}).abs().max().item<float>(),
            0.0f);
  EXPECT_GT(masked_heads.index({0, 0, torch::indexing::Slice(), 2}).min().item<float>(), 0.0f);
}

TEST(BitMultiheadAttentionTest, FromTorchRoundTrip) {
  torch::manual_seed(4);
  const int64_t E = 12, H = 3;
  for (bool bias : {true, false}) {
    torch::nn::MultiheadAttention mha(
        torch::nn::MultiheadAttentionOptions(E, H).bias(bias).dropout(0.25));
    if (bias) {
      torch::NoGradGuard no_grad;
      mha->in_proj_bias.normal_();
      mha->out_proj->bias.normal_();
    }
    const BitQuantConfig config = quant("af32_wpc");
    BitMultiheadAttention bit(BitMultiheadAttentionImpl::from_torch(*mha, config));
    EXPECT_EQ(bit->options.dropout(), 0.25);
    EXPECT_EQ(bit->options.bias(), bias);
    EXPECT_EQ(bit->options.quant_config(), config);
    const std::vector<const BitLinear*> projections = {&bit->q_proj, &bit->k_proj, &bit->v_proj};
    for (int64_t i = 0; i < 3; ++i) {
      const auto rows = torch::indexing::Slice(i * E, (i + 1) * E);
      EXPECT_TRUE(torch::equal((*projections[i])->weight, mha->in_proj_weight.index({rows})));
      EXPECT_EQ((*projections[i])->bias.defined(), bias);
      if (bias) {
        EXPECT_TRUE(torch::equal((*projections[i])->bias, mha->in_proj_bias.index({rows})));
      }
    }
    EXPECT_TRUE(torch::equal(bit->out_proj->weight, mha->out_proj->weight));
    if (bias) {
      EXPECT_TRUE(torch::equal(bit->out_proj->bias, mha->out_proj->bias));
    }

    // Converted back through fake quantization, it computes what the source computes with
    // ternary weights.
    mha->eval();
    bit->eval();
    torch::nn::MultiheadAttention reference = fake_quantized_reference(bit);
    reference->eval();
    const Tensor x = torch::randn({6, 2, E});
    const auto [out, weights] = bit(x, x, x);
    const auto [ref_out, ref_weights] = reference(x, x, x);
    EXPECT_CLOSE(out, ref_out, 1e-4, 1e-5);
    EXPECT_CLOSE(weights, ref_weights, 1e-4, 1e-5);
    // And the fake-quantized source is not the float source.
    EXPECT_FALSE(torch::allclose(std::get<0>(mha(x, x, x)), out, 1e-3, 1e-3));
  }
  const BitQuantConfig config = quant("ai8pc_wpt");
  expect_error<BitLabError>(
      [&] {
        BitMultiheadAttentionImpl::from_torch(
            *torch::nn::MultiheadAttention(
                torch::nn::MultiheadAttentionOptions(E, H).add_bias_kv(true)),
            config);
      },
      "from_torch: the source has add_bias_kv = true");
  expect_error<BitLabError>(
      [&] {
        BitMultiheadAttentionImpl::from_torch(
            *torch::nn::MultiheadAttention(
                torch::nn::MultiheadAttentionOptions(E, H).add_zero_attn(true)),
            config);
      },
      "from_torch: the source has add_zero_attn = true");
  expect_error<BitLabError>(
      [&] {
        BitMultiheadAttentionImpl::from_torch(
            *torch::nn::MultiheadAttention(torch::nn::MultiheadAttentionOptions(E, H).kdim(6)),
            config);
      },
      "the source has kdim = 6 and vdim = 12, expected both equal to embed_dim = 12");
}

TEST(BitMultiheadAttentionTest, CausalOutputsIgnoreLaterInputs) {
  torch::manual_seed(5);
  const int64_t E = 16, H = 4, L = 6, N = 2;
  for (const char* config : {"ai8pc_wpt", "af32_wpc"}) {
    BitMultiheadAttention bit = make_attention(E, H, config, true, /*sub_norm=*/true,
                                               /*causal=*/true);
    for (bool training : {true, false}) {
      bit->train(training);
      const Tensor x = torch::randn({L, N, E});
      const auto [out, weights] = bit(x, x, x);
      // No weight on a later key.
      EXPECT_EQ(weights.masked_select(BitMultiheadAttentionImpl::causal_mask(L, L).unsqueeze(0))
                    .abs()
                    .max()
                    .item<float>(),
                0.0f);
      for (int64_t t = 0; t + 1 < L; ++t) {
        Tensor changed = x.clone();
        changed.index_put_({torch::indexing::Slice(t + 1)}, torch::randn({L - t - 1, N, E}));
        const Tensor changed_out = std::get<0>(bit(changed, changed, changed));
        const auto upto_t = torch::indexing::Slice(0, t + 1);
        EXPECT_TRUE(torch::allclose(changed_out.index({upto_t}), out.index({upto_t}), 0, 1e-6))
            << config << " t=" << t;
        // The test can fail: the last position does see the change.
        EXPECT_FALSE(torch::allclose(changed_out.index({L - 1}), out.index({L - 1}), 1e-3, 1e-3));
      }
      // `causal` is the bool attn_mask causal_mask(L, S).
      BitMultiheadAttention plain = make_attention(E, H, config, true, true, /*causal=*/false);
      plain->train(training);
      {
        torch::NoGradGuard no_grad;
        for (const auto& item : bit->named_parameters()) {
          plain->named_parameters()[item.key()].copy_(item.value());
        }
      }
      const Tensor explicit_mask = BitMultiheadAttentionImpl::causal_mask(L, L);
      EXPECT_TRUE(torch::equal(std::get<0>(plain->forward(x, x, x, {}, true, explicit_mask)), out));
    }
  }
  EXPECT_TRUE(torch::equal(BitMultiheadAttentionImpl::causal_mask(2, 3),
                           torch::tensor({0, 1, 1, 0, 0, 1}, torch::kBool).view({2, 3})));
}

TEST(BitMultiheadAttentionTest, KeyPaddingMaskHidesKeys) {
  torch::manual_seed(6);
  const int64_t E = 16, H = 2, L = 4, S = 5, N = 3;
  BitMultiheadAttention bit = make_attention(E, H, "ai8pc_wpc");
  randomize_biases(bit);
  Tensor padding = torch::zeros({N, S}, torch::kBool);
  padding.index_put_({0, torch::indexing::Slice(3)}, true);  // sequence 0 has 3 keys
  padding.index_put_({2, 0}, true);
  const Tensor query = torch::randn({L, N, E});
  const Tensor key = torch::randn({S, N, E});
  const Tensor value = torch::randn({S, N, E});
  // (S, N, 1): where a key is padding.
  const Tensor padded = padding.t().unsqueeze(-1);
  for (bool training : {true, false}) {
    bit->train(training);
    const auto [out, weights] = bit->forward(query, key, value, padding);
    EXPECT_EQ(weights.masked_select(padding.unsqueeze(1)).abs().max().item<float>(), 0.0f);
    const Tensor other_key = torch::where(padded, torch::randn({S, N, E}) * 10, key);
    const Tensor other_value = torch::where(padded, torch::randn({S, N, E}) * 10, value);
    const auto [changed, changed_weights] = bit->forward(query, other_key, other_value, padding);
    EXPECT_TRUE(torch::allclose(changed, out, 0, 1e-6)) << "training " << training;
    EXPECT_TRUE(torch::allclose(changed_weights, weights, 0, 1e-7));
    // Without the mask the change shows.
    EXPECT_FALSE(torch::allclose(std::get<0>(bit(query, other_key, other_value)),
                                 std::get<0>(bit(query, key, value)), 1e-3, 1e-3));
  }
}

TEST(BitMultiheadAttentionTest, AFullyMaskedQueryThrows) {
  const int64_t E = 8, H = 2, L = 3, S = 4, N = 2;
  BitMultiheadAttention bit = make_attention(E, H, "ai8pc_wpt");
  const Tensor query = torch::randn({L, N, E});
  const Tensor key = torch::randn({S, N, E});
  Tensor padding = torch::zeros({N, S}, torch::kBool);
  padding.index_put_({1}, true);
  expect_error<BitLabError>([&] { bit->forward(query, key, key, padding); },
                            "every key is masked (by key_padding_mask, attn_mask or causal) for "
                            "query 0 of batch element 1 in head 0");
  Tensor additive = torch::zeros({L, S});
  additive.index_put_({2}, -kInf);
  expect_error<BitLabError>([&] { bit->forward(query, key, key, {}, true, additive); },
                            "for query 2 of batch element 0");
  // Causal masking and padding of the first key leave query 0 nothing.
  BitMultiheadAttention causal = make_attention(E, H, "ai8pc_wpt", true, false, true);
  Tensor first_padded = torch::zeros({N, S}, torch::kBool);
  first_padded.index_put_({1, 0}, true);
  expect_error<BitLabError>([&] { causal->forward(query, key, key, first_padded); },
                            "query 0 of batch element 1");
  // One unmasked key is enough, and no NaN comes out.
  padding.index_put_({1, 3}, false);
  const auto [out, weights] = bit->forward(query, key, key, padding);
  EXPECT_FALSE(torch::isnan(out).any().item<bool>());
  EXPECT_TRUE(torch::allclose(weights.index({1, torch::indexing::Slice(), 3}), torch::ones({L})));
}

TEST(BitMultiheadAttentionTest, TrainEvalAndDeployForwardsAgree) {
  torch::manual_seed(7);
  const int64_t E = 32, H = 4, L = 6, S = 5, N = 2;
  for (bool sub_norm : {false, true}) {
    for (bool bias : {true, false}) {
      BitMultiheadAttention bit = make_attention(E, H, "ai8pc_wpt", bias, sub_norm);
      randomize_biases(bit);
      const Tensor query = torch::randn({L, N, E});
      const Tensor key = torch::randn({S, N, E});
      Tensor padding = torch::zeros({N, S}, torch::kBool);
      padding.index_put_({1, 4}, true);
      const auto [train_out, train_weights] = bit->forward(query, key, key, padding);
      bit->eval();
      const auto [eval_out, eval_weights] = bit->forward(query, key, key, padding);
      EXPECT_FALSE(bit->is_deployed());
      bit->deploy();
      EXPECT_TRUE(bit->is_deployed());
      EXPECT_FALSE(bit->is_training());
      EXPECT_EQ(bit->q_proj->weight.numel(), 0);
      const auto [deployed_out, deployed_weights] = bit->forward(query, key, key, padding);
      EXPECT_CLOSE(eval_out, train_out, 1e-4, 1e-5);
      EXPECT_CLOSE(eval_weights, train_weights, 1e-4, 1e-5);
      EXPECT_TRUE(torch::equal(deployed_out, eval_out));
      EXPECT_TRUE(torch::equal(deployed_weights, eval_weights));
      expect_error<BitLabError>([&] { bit->train(); },
                                "BitMultiheadAttention: train() after deploy()");
      EXPECT_NO_THROW(bit->eval());
      EXPECT_NO_THROW(bit->deploy());  // a second deploy does nothing
    }
  }
}

TEST(BitMultiheadAttentionTest, DropoutOnlyInTraining) {
  torch::manual_seed(8);
  BitMultiheadAttention bit(
      BitMultiheadAttentionOptions(8, 2).dropout(0.5).quant_config(quant("af32_wpc")));
  const Tensor x = torch::randn({4, 2, 8});
  const auto [dropped, dropped_weights] = bit(x, x, x);
  bit->eval();
  const auto [kept, kept_weights] = bit(x, x, x);
  EXPECT_TRUE(torch::equal(std::get<0>(bit(x, x, x)), kept));
  EXPECT_FALSE(torch::allclose(dropped, kept, 1e-3, 1e-3));
  EXPECT_TRUE(torch::allclose(kept_weights.sum(-1), torch::ones({2, 4})));
  EXPECT_GT((dropped_weights == 0).sum().item<int64_t>(), 0);
}

TEST(BitMultiheadAttentionTest, GradientsReachEveryParameter) {
  torch::manual_seed(9);
  BitMultiheadAttention bit = make_attention(16, 4, "ai8pc_wpt", true, /*sub_norm=*/true);
  randomize_biases(bit);
  const Tensor query = torch::randn({5, 2, 16}, torch::requires_grad());
  const Tensor key = torch::randn({7, 2, 16}, torch::requires_grad());
  const auto [out, weights] = bit(query, key, key);
  (out * torch::randn(out.sizes())).sum().backward();
  for (const auto& item : bit->named_parameters()) {
    const Tensor& grad = item.value().grad();
    ASSERT_TRUE(grad.defined()) << item.key();
    EXPECT_TRUE(torch::isfinite(grad).all().item<bool>()) << item.key();
    if (item.key() == "k_proj.bias") {
      // Adding b to every key adds q . b to a whole row of scores, which softmax ignores: the
      // exact gradient is zero (as in torch::nn::MultiheadAttention).
      EXPECT_LT(grad.abs().max().item<float>(), 1e-4) << item.key();
    } else {
      EXPECT_GT(grad.abs().max().item<float>(), 1e-6) << item.key();
    }
  }
  EXPECT_GT(query.grad().abs().max().item<float>(), 0.0f);
  EXPECT_GT(key.grad().abs().max().item<float>(), 0.0f);
  EXPECT_EQ(bit->named_parameters().size(), 9u);  // 4 x (weight, bias) + sub_norm.weight
}

TEST(BitMultiheadAttentionTest, StateRoundTrips) {
  torch::manual_seed(10);
  const Tensor x = torch::randn({5, 2, 16});
  for (bool deployed : {false, true}) {
    BitMultiheadAttention source = make_attention(16, 4, "ai8pc_wpt", true, true, true);
    randomize_biases(source);
    torch::manual_seed(11);
    BitMultiheadAttention target = make_attention(16, 4, "ai8pc_wpt", true, true, true);
    if (deployed) {
      source->deploy();
      target->deploy();
    }
    std::stringstream stream;
    torch::save(source, stream);
    ASSERT_FALSE(torch::equal(std::get<0>(target(x, x, x)), std::get<0>(source(x, x, x))));
    torch::load(target, stream);
    EXPECT_TRUE(torch::equal(std::get<0>(target(x, x, x)), std::get<0>(source(x, x, x))))
        << "deployed " << deployed;
  }
  BitMultiheadAttention bit = make_attention(8, 2, "ai8pc_wpt", true, true);
  const std::vector<std::string> names = {"q_proj.weight",   "q_proj.bias",     "k_proj.weight",
                                          "k_proj.bias",     "v_proj.weight",   "v_proj.bias",
                                          "sub_norm.weight", "out_proj.weight", "out_proj.bias"};
  EXPECT_EQ(bit->named_parameters().keys(), names);
}

TEST(BitMultiheadAttentionTest, CloneAndAnyModule) {
  torch::manual_seed(12);
  BitMultiheadAttention bit = make_attention(8, 2, "ai8pc_wpt", true, true);
  const Tensor x = torch::randn({3, 2, 8});
  const auto copy = std::dynamic_pointer_cast<BitMultiheadAttentionImpl>(bit->clone());
  ASSERT_TRUE(copy);
  EXPECT_TRUE(torch::equal(std::get<0>(copy->forward(x, x, x)), std::get<0>(bit(x, x, x))));
  EXPECT_NE(copy->q_proj->weight.data_ptr(), bit->q_proj->weight.data_ptr());
  // Default arguments work through type erasure.
  torch::nn::AnyModule any(bit);
  const auto result = any.forward<std::tuple<Tensor, Tensor>>(x, x, x);
  EXPECT_TRUE(torch::equal(std::get<0>(result), std::get<0>(bit(x, x, x))));

  std::ostringstream printed;
  bit->pretty_print(printed);
  EXPECT_EQ(printed.str(),
            "bitlab::BitMultiheadAttention(embed_dim=8, num_heads=2, dropout=0, bias=true, "
            "sub_norm=true, causal=false, quant=ai8pc_wpt)");
}

TEST(BitMultiheadAttentionTest, BadInputIsNamed) {
  expect_error<BitLabError>([] { make_attention(10, 3, "ai8pc_wpt"); },
                            "BitMultiheadAttention: embed_dim = 10 is not divisible by "
                            "num_heads = 3");
  expect_error<BitLabError>([] { make_attention(8, 0, "ai8pc_wpt"); },
                            "embed_dim and num_heads must be positive, got 8 and 0");
  expect_error<BitLabError>(
      [] { BitMultiheadAttention(BitMultiheadAttentionOptions(8, 2).dropout(1.5)); },
      "dropout must be in [0, 1], got 1.5");

  BitMultiheadAttention bit = make_attention(8, 2, "ai8pc_wpt");
  const Tensor query = torch::randn({5, 2, 8});
  const Tensor key = torch::randn({6, 2, 8});
  expect_error<ShapeError>(
      [&] {
        bit(torch::randn({5, 2, 7}), key, key);
      },
      "BitMultiheadAttention: query has shape [5, 2, 7], expected (length, "
      "N, embed_dim = 8)");
  expect_error<ShapeError>(
      [&] {
        bit(query, torch::randn({6, 8}), key);
      },
      "key has shape [6, 8], expected (length, N, embed_dim = 8)");
  expect_error<ShapeError>(
      [&] {
        bit(query, torch::randn({6, 3, 8}), torch::randn({6, 3, 8}));
      },
      "key has shape [6, 3, 8], expected batch size N = 2");
  expect_error<ShapeError>(
      [&] {
        bit(query, key, torch::randn({4, 2, 8}));
      },
      "value has shape [4, 2, 8], expected the shape of key [6, 2, 8]");
  expect_error<ShapeError>(
      [&] {
        bit(query, torch::randn({0, 2, 8}), torch::randn({0, 2, 8}));
      },
      "expected at least one key (S > 0)");
  expect_error<ShapeError>(
      [&] {
        bit->forward(query, key, key, torch::zeros({2, 5}, torch::kBool));
      },
      "key_padding_mask has shape [2, 5], expected [N, S] = [2, 6]");
  expect_error<ShapeError>(
      [&] {
        bit->forward(query, key, key, torch::zeros({2, 6}));
      },
      "key_padding_mask has dtype Float, expected Bool");
  expect_error<ShapeError>(
      [&] {
        bit->forward(query, key, key, {}, true, torch::zeros({5, 5}));
      },
      "attn_mask has shape [5, 5], expected [L, S] = [5, 6] or [N * num_heads, L, S] = [4, 5, "
      "6]");
  expect_error<ShapeError>(
      [&] {
        bit->forward(query, key, key, {}, true, torch::zeros({5, 6}, torch::kInt64));
      },
      "attn_mask has dtype Long, expected Bool (true = masked) or a floating type (added)");
  expect_error<ShapeError>([&] { bit(query.to(torch::kInt32), key, key); },
                           "query has dtype Int, expected a floating-point tensor");
  expect_error<BitLabError>([] { BitMultiheadAttentionImpl::causal_mask(-1, 2); },
                            "L and S must not be negative, got -1 and 2");
}

// ---------------------------------------------------------------------------------------------
// BitTransformerBlock

BitTransformerBlock make_block(BitActivation activation, BitNormType norm, bool causal = false,
                               const char* config = "ai8pc_wpt", bool bias = false) {
  return BitTransformerBlock(BitTransformerBlockOptions(16, 4, 32)
                                 .activation(activation)
                                 .norm(norm)
                                 .causal(causal)
                                 .bias(bias)
                                 .quant_config(quant(config)));
}

const BitActivation kActivations[] = {BitActivation::kGELU, BitActivation::kReLU2,
                                      BitActivation::kSwiGLU};
const BitNormType kNorms[] = {BitNormType::kRMSNorm, BitNormType::kLayerNorm};

TEST(BitTransformerBlockTest, TrainEvalAndDeployAgreeForEveryChoice) {
  torch::manual_seed(13);
  const Tensor x = torch::randn({6, 3, 16});
  for (BitActivation activation : kActivations) {
    for (BitNormType norm : kNorms) {
      const std::string label = "activation " + std::to_string(static_cast<int>(activation)) +
                                ", norm " + std::to_string(static_cast<int>(norm));
      BitTransformerBlock block = make_block(activation, norm);
      EXPECT_EQ(static_cast<bool>(block->gate_proj), activation == BitActivation::kSwiGLU);
      const Tensor train = block(x);
      EXPECT_EQ(train.sizes(), x.sizes()) << label;
      block->eval();
      const Tensor eval = block(x);
      block->deploy();
      EXPECT_TRUE(block->is_deployed());
      EXPECT_TRUE(block->attn->is_deployed());
      EXPECT_EQ(block->up_proj->weight.numel(), 0);
      const Tensor deployed = block(x);
      EXPECT_CLOSE(eval, train, 1e-4, 1e-5);
      EXPECT_TRUE(torch::equal(deployed, eval)) << label;
      expect_error<BitLabError>([&] { block->train(); },
                                "BitTransformerBlock: train() after deploy()");
    }
  }
}

TEST(BitTransformerBlockTest, ActivationsComputeWhatTheySay) {
  // With sub_norm off and float32 activations, the MLP is down(act(up(norm2(y)))) on
  // fake-quantized weights; check the block against that, written out.
  torch::manual_seed(14);
  const Tensor x = torch::randn({4, 2, 16});
  for (BitActivation activation : kActivations) {
    BitTransformerBlock block(BitTransformerBlockOptions(16, 4, 32)
                                  .activation(activation)
                                  .sub_norm(false)
                                  .quant_config(quant("af32_wpc")));
    EXPECT_FALSE(block->ffn_sub_norm);
    const Tensor h = block->norm1.forward<Tensor>(x);
    const Tensor y = x + std::get<0>(block->attn(h, h, h));
    const Tensor h2 = block->norm2.forward<Tensor>(y);
    const BitQuantConfig config = block->options.quant_config();
    const auto linear = [&](const BitLinear& layer, const Tensor& in) {
      return torch::matmul(in, fake_quantize_weight(layer->weight, config).t());
    };
    Tensor hidden;
    switch (activation) {
      case BitActivation::kGELU:
        hidden = 0.5 * linear(block->up_proj, h2) *
                 (1 + torch::erf(linear(block->up_proj, h2) / std::sqrt(2.0)));
        break;
      case BitActivation::kReLU2:
        hidden = torch::relu(linear(block->up_proj, h2)).pow(2);
        break;
      case BitActivation::kSwiGLU: {
        const Tensor gate = linear(block->gate_proj, h2);
        hidden = gate * torch::sigmoid(gate) * linear(block->up_proj, h2);
        break;
      }
    }
    EXPECT_CLOSE(block(x), y + linear(block->down_proj, hidden), 1e-4, 1e-5);
  }
}

TEST(BitTransformerBlockTest, CausalBlockIgnoresLaterInputs) {
  torch::manual_seed(15);
  const int64_t L = 5;
  for (BitActivation activation : kActivations) {
    BitTransformerBlock block = make_block(activation, BitNormType::kRMSNorm, /*causal=*/true);
    EXPECT_TRUE(block->attn->options.causal());
    for (bool training : {true, false}) {
      block->train(training);
      const Tensor x = torch::randn({L, 2, 16});
      const Tensor y = block(x);
      for (int64_t t = 0; t + 1 < L; ++t) {
        Tensor changed = x.clone();
        changed.index_put_({torch::indexing::Slice(t + 1)}, torch::randn({L - t - 1, 2, 16}));
        const Tensor changed_y = block(changed);
        const auto upto_t = torch::indexing::Slice(0, t + 1);
        EXPECT_TRUE(torch::allclose(changed_y.index({upto_t}), y.index({upto_t}), 0, 1e-6))
            << "t=" << t;
      }
    }
  }
  // Without `causal`, position 0 sees position 1.
  BitTransformerBlock open = make_block(BitActivation::kReLU2, BitNormType::kRMSNorm);
  const Tensor x = torch::randn({L, 2, 16});
  Tensor changed = x.clone();
  changed.index_put_({1}, torch::randn({2, 16}));
  EXPECT_FALSE(torch::allclose(open(changed).index({0}), open(x).index({0}), 1e-3, 1e-3));
}

TEST(BitTransformerBlockTest, KeyPaddingMaskHidesPaddedPositions) {
  torch::manual_seed(16);
  BitTransformerBlock block = make_block(BitActivation::kSwiGLU, BitNormType::kLayerNorm);
  const Tensor x = torch::randn({5, 2, 16});
  Tensor padding = torch::zeros({2, 5}, torch::kBool);
  padding.index_put_({1, torch::indexing::Slice(3)}, true);
  Tensor changed = x.clone();
  changed.index_put_({torch::indexing::Slice(3), 1}, torch::randn({2, 16}) * 5);
  const Tensor y = block(x, padding);
  const Tensor changed_y = block(changed, padding);
  EXPECT_TRUE(torch::allclose(changed_y.index({torch::indexing::Slice(0, 3), 1}),
                              y.index({torch::indexing::Slice(0, 3), 1}), 0, 1e-6));
  EXPECT_TRUE(torch::allclose(changed_y.index({torch::indexing::Slice(), 0}),
                              y.index({torch::indexing::Slice(), 0}), 0, 1e-6));
}

TEST(BitTransformerBlockTest, GradientsReachEveryParameter) {
  torch::manual_seed(17);
  const Tensor x = torch::randn({5, 2, 16});
  for (BitActivation activation : kActivations) {
    for (BitNormType norm : kNorms) {
      BitTransformerBlock block = make_block(activation, norm, true, "ai8pc_wpt");
      const Tensor y = block(x);
      (y * torch::randn(y.sizes())).sum().backward();
      for (const auto& item : block->named_parameters()) {
        const Tensor& grad = item.value().grad();
        ASSERT_TRUE(grad.defined()) << item.key();
        EXPECT_TRUE(torch::isfinite(grad).all().item<bool>()) << item.key();
        EXPECT_GT(grad.abs().max().item<float>(), 1e-7) << item.key();
      }
    }
  }
}

TEST(BitTransformerBlockTest, StateRoundTripsAndNames) {
  torch::manual_seed(18);
  const Tensor x = torch::randn({4, 2, 16});
  for (bool deployed : {false, true}) {
    BitTransformerBlock source = make_block(BitActivation::kSwiGLU, BitNormType::kLayerNorm);
    torch::manual_seed(19);
    BitTransformerBlock target = make_block(BitActivation::kSwiGLU, BitNormType::kLayerNorm);
    {
      torch::NoGradGuard no_grad;
      for (const auto& item : source->named_parameters()) {
        if (item.key().find("norm") != std::string::npos) item.value().normal_();
      }
    }
    if (deployed) {
      source->deploy();
      target->deploy();
    }
    std::stringstream stream;
    torch::save(source, stream);
    ASSERT_FALSE(torch::equal(target(x), source(x)));
    torch::load(target, stream);
    EXPECT_TRUE(torch::equal(target(x), source(x))) << "deployed " << deployed;
  }
  BitTransformerBlock block = make_block(BitActivation::kSwiGLU, BitNormType::kRMSNorm);
  const std::vector<std::string> names = {
      "norm1.weight",         "attn.q_proj.weight",   "attn.k_proj.weight", "attn.v_proj.weight",
      "attn.sub_norm.weight", "attn.out_proj.weight", "norm2.weight",       "gate_proj.weight",
      "up_proj.weight",       "ffn_sub_norm.weight",  "down_proj.weight"};
  EXPECT_EQ(block->named_parameters().keys(), names);

  const auto copy = std::dynamic_pointer_cast<BitTransformerBlockImpl>(block->clone());
  ASSERT_TRUE(copy);
  EXPECT_TRUE(torch::equal(copy->forward(x), block(x)));

  std::ostringstream printed;
  block->pretty_print(printed);
  EXPECT_EQ(printed.str(),
            "bitlab::BitTransformerBlock(d_model=16, num_heads=4, ffn_dim=32, activation=swiglu, "
            "norm=rms_norm, sub_norm=true, causal=false, dropout=0, bias=false, "
            "quant=ai8pc_wpt)");
}

TEST(BitTransformerBlockTest, BadInputIsNamed) {
  expect_error<BitLabError>([] { BitTransformerBlock(10, 4, 32); },
                            "BitTransformerBlock: d_model = 10 is not divisible by num_heads = 4");
  expect_error<BitLabError>([] { BitTransformerBlock(16, 4, 0); },
                            "d_model, num_heads and ffn_dim must be positive, got 16, 4 and 0");
  BitTransformerBlock block = make_block(BitActivation::kGELU, BitNormType::kRMSNorm);
  expect_error<ShapeError>(
      [&] {
        block(torch::randn({5, 2, 7}));
      },
      "BitTransformerBlock: x has shape [5, 2, 7], expected (L, N, d_model "
      "= 16)");
  expect_error<ShapeError>(
      [&] {
        block(torch::randn({5, 16}));
      },
      "x has shape [5, 16], expected (L, N, d_model = 16)");
  expect_error<ShapeError>(
      [&] {
        block(torch::randn({5, 2, 16}), torch::zeros({2, 4}, torch::kBool));
      },
      "BitMultiheadAttention: key_padding_mask has shape [2, 4], expected [N, S] = [2, 5]");
}

}  // namespace
}  // namespace bitlab
