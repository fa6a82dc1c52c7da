#include "bitlayers/bit_embedding.h"

#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include <ATen/ops/embedding.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/nn/modules/embedding.h>
#include <torch/optim/sgd.h>
#include <torch/types.h>

#include "bitcore/errors.h"
#include "bitcore/quantization.h"

namespace bitlab {
namespace {

using ::testing::HasSubstr;

BitEmbeddingOptions options_for(int64_t num, int64_t dim, const char* quant) {
  return BitEmbeddingOptions(num, dim).quant_config(BitQuantConfig::from_string(quant));
}

std::vector<std::string> keys(const torch::OrderedDict<std::string, torch::Tensor>& dict) {
  return dict.keys();
}

// Indices that hit every row of a `num`-row table, with repeats, in shape [3, num].
torch::Tensor all_rows_with_repeats(int64_t num) {
  return torch::cat({torch::arange(num), torch::randint(num, {2 * num})}).reshape({3, num});
}

// The 2-norm (or p-norm) of each returned vector.
torch::Tensor row_norms(const torch::Tensor& vectors, double p = 2.0) {
  return vectors.detach().norm(p, {-1});
}

TEST(BitEmbeddingTest, TrainEvalAndDeployForwardsAgree) {
  torch::manual_seed(0);
  for (const char* quant : {"ai8pc_wpt", "ai8pc_wpc"}) {
    for (int64_t dim : {16, 13}) {  // 13: the last packed byte of each row is partly padding
      BitEmbedding layer(options_for(11, dim, quant).padding_idx(3));
      for (torch::ScalarType dtype : {torch::kLong, torch::kInt}) {
        layer->train();
        const torch::Tensor indices = all_rows_with_repeats(11).to(dtype);
        const torch::Tensor train = layer(indices);
        layer->eval();
        const torch::Tensor eval = layer(indices);
        EXPECT_EQ(train.sizes(), (std::vector<int64_t>{3, 11, dim}));
        EXPECT_EQ(eval.sizes(), train.sizes());
        EXPECT_TRUE(torch::allclose(eval, train.detach(), 1e-4, 1e-5)) << quant << " " << dim;
        EXPECT_TRUE(torch::equal(eval, train.detach())) << quant << " " << dim;
      }
      const torch::Tensor indices = all_rows_with_repeats(11);
      const torch::Tensor eval = layer(indices);
      layer->deploy();
      EXPECT_TRUE(torch::equal(layer(indices), eval)) << quant << " " << dim;
      const int64_t scales = std::string(quant) == "ai8pc_wpc" ? 11 : 1;
      EXPECT_EQ(layer->qweight_scale.numel(), scales);
    }
  }
}

TEST(BitEmbeddingTest, TrainingValuesAreTheFakeQuantizedTable) {
  torch::manual_seed(1);
  for (const char* quant : {"ai8pc_wpt", "ai8pc_wpc"}) {
    BitEmbedding layer(options_for(9, 8, quant));
    const torch::Tensor table =
        fake_quantize_weight(layer->weight.detach(), BitQuantConfig::from_string(quant));
    const torch::Tensor indices = all_rows_with_repeats(9);
    EXPECT_TRUE(torch::equal(layer(indices).detach(), at::embedding(table, indices))) << quant;
    // Ternary: every value is -g, 0 or g for its row's scale g.
    const BitQuantConfig config = BitQuantConfig::from_string(quant);
    const torch::Tensor g =
        weight_scale(layer->weight.detach(), config.weight_granularity, config.eps).unsqueeze(1);
    EXPECT_TRUE(table.abs().eq(g).logical_or(table.eq(0)).all().item<bool>()) << quant;
  }
}

// The latent weight's gradient is torch's embedding gradient at the dequantized table, for
// every combination of padding_idx and scale_grad_by_freq.
TEST(BitEmbeddingTest, GradientIsTorchsEmbeddingGradientAtTheDequantizedTable) {
  torch::manual_seed(2);
  for (const char* quant : {"ai8pc_wpt", "ai8pc_wpc"}) {
    for (bool scale_grad_by_freq : {false, true}) {
      for (int64_t padding_idx : {-1, 4}) {
        BitEmbeddingOptions options =
            options_for(7, 10, quant).scale_grad_by_freq(scale_grad_by_freq);
        if (padding_idx >= 0) options.padding_idx(padding_idx);
        BitEmbedding layer(options);
        const torch::Tensor indices = all_rows_with_repeats(7);
        const torch::Tensor upstream = torch::randn({3, 7, 10});
        (layer(indices) * upstream).sum().backward();

        torch::Tensor leaf =
            fake_quantize_weight(layer->weight.detach(), options.quant_config()).requires_grad_();
        (at::embedding(leaf, indices, padding_idx, scale_grad_by_freq) * upstream).sum().backward();
        ASSERT_TRUE(layer->weight.grad().defined());
        EXPECT_TRUE(torch::equal(layer->weight.grad(), leaf.grad()))
            << quant << " scale_grad_by_freq=" << scale_grad_by_freq
            << " padding_idx=" << padding_idx;
      }
    }
  }
}

TEST(BitEmbeddingTest, ScaleGradByFreqMatchesTorch) {
  torch::manual_seed(3);
  // Row 2 appears three times, row 5 once.
  const torch::Tensor indices = torch::tensor({2, 5, 2, 2}, torch::kLong);
  const torch::Tensor upstream = torch::randn({4, 6});
  torch::Tensor grads[2];
  for (bool scale : {false, true}) {
    torch::manual_seed(4);
    BitEmbedding layer(options_for(8, 6, "ai8pc_wpt").scale_grad_by_freq(scale));
    (layer(indices) * upstream).sum().backward();
    grads[scale] = layer->weight.grad().clone();

    torch::manual_seed(4);
    torch::nn::Embedding reference(torch::nn::EmbeddingOptions(8, 6).scale_grad_by_freq(scale));
    {
      torch::NoGradGuard no_grad;
      reference->weight.copy_(
          fake_quantize_weight(layer->weight.detach(), layer->options.quant_config()));
    }
    (reference(indices) * upstream).sum().backward();
    EXPECT_TRUE(torch::equal(grads[scale], reference->weight.grad())) << scale;
  }
  EXPECT_TRUE(torch::allclose(grads[1][2], grads[0][2] / 3));
  EXPECT_TRUE(torch::equal(grads[1][5], grads[0][5]));
}

TEST(BitEmbeddingTest, PaddingRowIsZeroAndGetsNoGradient) {
  torch::manual_seed(5);
  for (const char* quant : {"ai8pc_wpt", "ai8pc_wpc"}) {
    BitEmbedding layer(options_for(6, 8, quant).padding_idx(-2));  // row 4
    ASSERT_TRUE(layer->options.padding_idx().has_value());
    EXPECT_EQ(*layer->options.padding_idx(), 4);
    EXPECT_TRUE(torch::equal(layer->weight[4], torch::zeros({8})));

    const torch::Tensor indices = torch::tensor({{4, 1}, {4, 4}}, torch::kLong);
    const torch::Tensor y = layer(indices);
    EXPECT_TRUE(torch::equal(y[0][0], torch::zeros({8})));
    y.pow(2).sum().backward();
    EXPECT_TRUE(torch::equal(layer->weight.grad()[4], torch::zeros({8})));
    EXPECT_FALSE(torch::equal(layer->weight.grad()[1], torch::zeros({8})));

    // A padding row that was changed (as torch allows) still gets no gradient.
    layer->weight.grad().zero_();
    {
      torch::NoGradGuard no_grad;
      layer->weight[4].fill_(0.5);
    }
    (layer(indices) * torch::randn({2, 2, 8})).sum().backward();
    EXPECT_TRUE(torch::equal(layer->weight.grad()[4], torch::zeros({8})));

    {
      torch::NoGradGuard no_grad;
      layer->weight[4].zero_();
    }
    layer->eval();
    EXPECT_TRUE(torch::equal(layer(indices)[1], torch::zeros({2, 8})));
    layer->deploy();
    EXPECT_TRUE(torch::equal(layer(indices)[1], torch::zeros({2, 8})));
  }
}

TEST(BitEmbeddingTest, MaxNormCapsReturnedVectorsInEveryModeAndLeavesTheWeight) {
  torch::manual_seed(6);
  for (const char* quant : {"ai8pc_wpt", "ai8pc_wpc"}) {
    for (double p : {2.0, 1.0}) {
      // Rows of N(0, 1) in 16 dimensions have 2-norms around 4 and 1-norms around 13: a cap
      // between the smallest and largest norm rescales some rows and leaves others.
      BitEmbedding plain(options_for(12, 16, quant));
      const torch::Tensor indices = all_rows_with_repeats(12);
      const torch::Tensor uncapped = plain(indices).detach();
      const torch::Tensor norms = row_norms(uncapped, p);
      const double max_norm = norms.median().item<double>();

      BitEmbedding layer(options_for(12, 16, quant).max_norm(max_norm).norm_type(p));
      {
        torch::NoGradGuard no_grad;
        layer->weight.copy_(plain->weight);
      }
      const torch::Tensor latent = layer->weight.detach().clone();
      const torch::Tensor above = norms.gt(max_norm);
      ASSERT_GT(above.sum().item<int64_t>(), 0);
      ASSERT_GT(above.logical_not().sum().item<int64_t>(), 0);
      const torch::Tensor expected = torch::where(
          above.unsqueeze(-1), uncapped * (max_norm / (norms + 1e-7)).unsqueeze(-1), uncapped);

      const torch::Tensor train = layer(indices);
      EXPECT_TRUE(torch::equal(layer->weight.detach(), latent)) << "latent weight renormalized";
      EXPECT_TRUE(torch::allclose(train.detach(), expected, 1e-6, 1e-6)) << quant << " p=" << p;
      EXPECT_TRUE(row_norms(train, p).le(max_norm * (1 + 1e-6)).all().item<bool>());
      // Vectors under the cap come back untouched.
      EXPECT_TRUE(torch::equal(train.detach().index({above.logical_not()}),
                               uncapped.index({above.logical_not()})));

      // The factor is a constant in the backward.
      const torch::Tensor upstream = torch::randn(train.sizes());
      (train * upstream).sum().backward();
      torch::Tensor leaf = fake_quantize_weight(latent, layer->options.quant_config());
      leaf.requires_grad_();
      const torch::Tensor factor =
          torch::where(above, max_norm / (norms + 1e-7), torch::ones_like(norms)).unsqueeze(-1);
      (at::embedding(leaf, indices) * factor * upstream).sum().backward();
      EXPECT_TRUE(torch::allclose(layer->weight.grad(), leaf.grad(), 1e-5, 1e-6));

      layer->eval();
      const torch::Tensor eval = layer(indices);
      EXPECT_TRUE(torch::allclose(eval, train.detach(), 1e-4, 1e-5));
      EXPECT_TRUE(torch::equal(eval, train.detach()));
      EXPECT_TRUE(torch::equal(layer->weight.detach(), latent));
      layer->deploy();
      EXPECT_TRUE(torch::equal(layer(indices), eval));
    }
  }
}

TEST(BitEmbeddingTest, IndicesOfAnyIntegerTypeAndShape) {
  BitEmbedding layer(options_for(10, 5, "ai8pc_wpc"));
  const torch::Tensor reference = layer(torch::tensor({7, 0, 9}, torch::kLong)).detach();
  for (int mode = 0; mode < 2; ++mode) {
    layer->train(mode == 0);
    for (torch::ScalarType dtype :
         {torch::kLong, torch::kInt, torch::kShort, torch::kChar, torch::kByte}) {
      const torch::Tensor y = layer(torch::tensor({7, 0, 9}, torch::kLong).to(dtype));
      EXPECT_TRUE(torch::equal(y.detach(), reference)) << dtype << " mode " << mode;
    }
    EXPECT_EQ(layer(torch::tensor(7, torch::kLong)).sizes(), (std::vector<int64_t>{5}));
    EXPECT_TRUE(torch::equal(layer(torch::tensor(7, torch::kLong)).detach(), reference[0]));
    EXPECT_EQ(layer(torch::zeros({2, 0, 3}, torch::kLong)).sizes(),
              (std::vector<int64_t>{2, 0, 3, 5}));
    EXPECT_EQ(layer(torch::zeros({2, 1, 3, 4}, torch::kInt)).sizes(),
              (std::vector<int64_t>{2, 1, 3, 4, 5}));
    // Non-contiguous indices.
    const torch::Tensor grid = torch::arange(10).reshape({2, 5}).t();
    EXPECT_TRUE(torch::equal(layer(grid).detach()[0], layer(torch::tensor({0, 5})).detach()));
  }
}

TEST(BitEmbeddingTest, StateNamesAreStable) {
  BitEmbedding layer(options_for(8, 4, "ai8pc_wpt"));
  BitEmbedding padded(options_for(8, 4, "ai8pc_wpc").padding_idx(0).max_norm(1.0));
  for (BitEmbedding* l : {&layer, &padded}) {
    EXPECT_EQ(keys((*l)->named_parameters()), (std::vector<std::string>{"weight"}));
    EXPECT_EQ(keys((*l)->named_buffers()), (std::vector<std::string>{"qweight", "qweight_scale"}));
    (*l)->deploy();
    EXPECT_EQ(keys((*l)->named_parameters()), (std::vector<std::string>{"weight"}));
    EXPECT_EQ(keys((*l)->named_buffers()), (std::vector<std::string>{"qweight", "qweight_scale"}));
  }
}

TEST(BitEmbeddingTest, StateRoundTripsInEveryMode) {
  torch::manual_seed(7);
  const torch::Tensor indices = all_rows_with_repeats(10);
  for (const char* quant : {"ai8pc_wpt", "ai8pc_wpc"}) {
    for (int mode = 0; mode < 3; ++mode) {  // train, eval, deployed
      BitEmbedding source(options_for(10, 9, quant));
      BitEmbedding target(options_for(10, 9, quant));
      if (mode >= 1) {
        source->eval();
        target->eval();
        source(indices);  // packs
      }
      if (mode == 2) {
        source->deploy();
        target->deploy();
      }
      ASSERT_FALSE(torch::equal(target(indices), source(indices)));
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
      EXPECT_TRUE(torch::equal(target(indices), source(indices))) << quant << " mode " << mode;
    }
  }
}

TEST(BitEmbeddingTest, EvalAfterAnOptimizerStepRepacks) {
  torch::manual_seed(8);
  BitEmbedding layer(options_for(16, 8, "ai8pc_wpc"));
  const torch::Tensor indices = all_rows_with_repeats(16);
  layer->eval();
  const torch::Tensor before = layer(indices);
  const torch::Tensor packed_before = layer->qweight.clone();

  layer->train();
  torch::optim::SGD sgd(layer->parameters(), torch::optim::SGDOptions(5.0));
  sgd.zero_grad();
  (layer(indices) * torch::randn({3, 16, 8})).sum().backward();
  sgd.step();

  layer->eval();
  const torch::Tensor after = layer(indices);
  EXPECT_FALSE(torch::equal(layer->qweight, packed_before));  // repacked from the new weight
  layer->train();
  EXPECT_TRUE(torch::allclose(after, layer(indices).detach(), 1e-4, 1e-5));
  EXPECT_FALSE(torch::allclose(after, before));
}

TEST(BitEmbeddingTest, DeployStraightFromTrainingPacksTheLatestWeights) {
  torch::manual_seed(9);
  BitEmbedding layer(options_for(16, 8, "ai8pc_wpt"));
  const torch::Tensor indices = all_rows_with_repeats(16);
  layer->eval();
  layer(indices);  // packs the initial weights
  layer->train();
  torch::optim::SGD sgd(layer->parameters(), torch::optim::SGDOptions(5.0));
  sgd.zero_grad();
  (layer(indices) * torch::randn({3, 16, 8})).sum().backward();
  sgd.step();  // through .data(): the version counter does not move
  const torch::Tensor trained = layer(indices).detach();
  layer->deploy();  // no eval() in between
  EXPECT_TRUE(torch::equal(layer(indices), trained));
}

TEST(BitEmbeddingTest, EvalModeChangesRepack) {
  torch::manual_seed(10);
  BitEmbedding layer(options_for(12, 8, "ai8pc_wpt"));
  const torch::Tensor indices = all_rows_with_repeats(12);
  const auto train_forward = [&] {
    layer->train();
    const torch::Tensor y = layer(indices).detach();
    layer->eval();
    return y;
  };
  layer->eval();
  layer(indices);
  {
    torch::NoGradGuard no_grad;
    layer->weight.copy_(torch::randn({12, 8}));  // as a state-dict load does
  }
  torch::Tensor eval = layer(indices);
  EXPECT_TRUE(torch::equal(eval, train_forward()));
  layer->weight.set_data(torch::randn({12, 8}));  // a new storage
  eval = layer(indices);
  EXPECT_TRUE(torch::equal(eval, train_forward()));
  layer->options.quant_config(BitQuantConfig::from_string("ai8pc_wpc"));
  eval = layer(indices);
  EXPECT_EQ(layer->qweight_scale.numel(), 12);
  EXPECT_TRUE(torch::equal(eval, train_forward()));
}

TEST(BitEmbeddingTest, DeployFreesTheWeightAndIsFinal) {
  BitEmbedding layer(options_for(32, 10, "ai8pc_wpc"));
  EXPECT_EQ(layer->float_bytes(), 4 * 32 * 10);
  EXPECT_EQ(layer->deployed_bytes(), 32 * 3 + 4 * 32);
  layer->deploy();
  EXPECT_TRUE(layer->is_deployed());
  EXPECT_FALSE(layer->is_training());
  EXPECT_EQ(layer->weight.numel(), 0);
  EXPECT_FALSE(layer->weight.requires_grad());
  EXPECT_EQ(layer->qweight.sizes(), (std::vector<int64_t>{32, 3}));
  EXPECT_EQ(layer->qweight.scalar_type(), torch::kByte);
  EXPECT_EQ(layer->qweight_scale.sizes(), (std::vector<int64_t>{32}));
  EXPECT_EQ(layer->qweight.numel() + 4 * layer->qweight_scale.numel(), layer->deployed_bytes());
  const torch::Tensor indices = torch::tensor({{3, 31}, {0, 3}}, torch::kLong);
  const torch::Tensor y = layer(indices);
  layer->deploy();  // a no-op
  EXPECT_TRUE(torch::equal(layer(indices), y));
  try {
    layer->train();
    FAIL() << "train() after deploy() must throw";
  } catch (const BitLabError& e) {
    EXPECT_THAT(e.what(), HasSubstr("train() after deploy()"));
  }
  EXPECT_NO_THROW(layer->eval());

  BitEmbedding per_tensor(options_for(32, 10, "ai8pc_wpt"));
  EXPECT_EQ(per_tensor->deployed_bytes(), 32 * 3 + 4);
}

TEST(BitEmbeddingTest, BadInputIsNamed) {
  BitEmbedding layer(options_for(10, 4, "ai8pc_wpt"));
  for (bool training : {true, false}) {
    layer->train(training);
    try {
      layer(torch::tensor({1.0f, 2.0f}));
      FAIL() << "float indices";
    } catch (const ShapeError& e) {
      EXPECT_THAT(e.what(), HasSubstr("indices have dtype Float, expected an integer tensor"));
    }
    try {
      layer(torch::tensor({{1, 2}, {10, 3}}, torch::kLong));
      FAIL() << "index 10";
    } catch (const BitLabError& e) {
      EXPECT_THAT(e.what(), HasSubstr("index 10 (element 2 of indices with shape [2, 2]) is out "
                                      "of range [0, 10)"));
    }
    try {
      layer(torch::tensor({0, -1}, torch::kInt));
      FAIL() << "index -1";
    } catch (const BitLabError& e) {
      EXPECT_THAT(e.what(), HasSubstr("index -1 (element 1"));
      EXPECT_THAT(e.what(), HasSubstr("out of range [0, 10)"));
    }
    EXPECT_THROW(layer(torch::tensor({true, false})), ShapeError);
  }
  for (int64_t padding_idx : {10, -11}) {
    try {
      BitEmbedding bad(options_for(10, 4, "ai8pc_wpt").padding_idx(padding_idx));
      FAIL() << "padding_idx " << padding_idx;
    } catch (const BitLabError& e) {
      EXPECT_THAT(e.what(), HasSubstr("padding_idx = " + std::to_string(padding_idx) +
                                      " is out of range: expected a value in [-10, 10)"));
    }
  }
  EXPECT_NO_THROW(BitEmbedding(options_for(10, 4, "ai8pc_wpt").padding_idx(-10)));
  try {
    BitEmbedding bad(0, 4);
    FAIL();
  } catch (const BitLabError& e) {
    EXPECT_THAT(e.what(), HasSubstr("num_embeddings and embedding_dim must be positive, got 0"));
  }
  try {
    BitEmbedding bad(options_for(10, 4, "ai8pc_wpt").max_norm(-1.0));
    FAIL();
  } catch (const BitLabError& e) {
    EXPECT_THAT(e.what(), HasSubstr("max_norm = -1"));
  }
  // A broken state dict is named rather than read out of bounds.
  layer->deploy();
  {
    torch::NoGradGuard no_grad;
    layer->qweight.set_data(torch::zeros({10, 2}, torch::kByte));
  }
  try {
    layer(torch::tensor({1}, torch::kLong));
    FAIL();
  } catch (const ShapeError& e) {
    EXPECT_THAT(e.what(), HasSubstr("qweight has shape [10, 2], expected [10, 1]"));
  }
}

TEST(BitEmbeddingTest, FromTorchCopiesWeightsAndOptions) {
  torch::manual_seed(11);
  torch::nn::Embedding embedding(
      torch::nn::EmbeddingOptions(20, 6).padding_idx(-1).max_norm(3.0).scale_grad_by_freq(true));
  BitEmbedding layer(
      BitEmbeddingImpl::from_torch(*embedding, BitQuantConfig::from_string("ai8pc_wpc")));
  EXPECT_TRUE(torch::equal(layer->weight, embedding->weight));
  EXPECT_TRUE(layer->weight.requires_grad());
  ASSERT_TRUE(layer->options.padding_idx().has_value());
  EXPECT_EQ(*layer->options.padding_idx(), 19);
  ASSERT_TRUE(layer->options.max_norm().has_value());
  EXPECT_EQ(*layer->options.max_norm(), 3.0);
  EXPECT_TRUE(layer->options.scale_grad_by_freq());
  EXPECT_EQ(layer->options.quant_config().weight_granularity, Granularity::kPerChannel);
  std::ostringstream printed;
  layer->pretty_print(printed);
  EXPECT_EQ(printed.str(),
            "bitlab::BitEmbedding(num_embeddings=20, embedding_dim=6, padding_idx=19, "
            "max_norm=3, norm_type=2, scale_grad_by_freq=true, quant=ai8pc_wpc, "
            "deployed=false)");

  BitEmbedding plain(options_for(5, 3, "ai8pc_wpt"));
  plain->deploy();
  std::ostringstream printed_plain;
  plain->pretty_print(printed_plain);
  EXPECT_EQ(printed_plain.str(),
            "bitlab::BitEmbedding(num_embeddings=5, embedding_dim=3, padding_idx=none, "
            "quant=ai8pc_wpt, deployed=true)");

  // A frozen pretrained table stays frozen.
  torch::nn::Embedding frozen = torch::nn::Embedding::from_pretrained(torch::randn({4, 2}));
  BitEmbedding frozen_layer(BitEmbeddingImpl::from_torch(*frozen, BitQuantConfig()));
  EXPECT_FALSE(frozen_layer->weight.requires_grad());
  EXPECT_TRUE(torch::equal(frozen_layer->weight, frozen->weight));

  torch::nn::Embedding sparse(torch::nn::EmbeddingOptions(4, 2).sparse(true));
  try {
    BitEmbeddingImpl::from_torch(*sparse, BitQuantConfig());
    FAIL();
  } catch (const BitLabError& e) {
    EXPECT_THAT(e.what(), HasSubstr("sparse gradients are not supported"));
  }
  EXPECT_THROW(BitEmbeddingOptions::from_torch(torch::nn::EmbeddingOptions(4, 2).sparse(true)),
               BitLabError);
}

}  // namespace
}  // namespace bitlab
