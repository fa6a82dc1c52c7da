#include "bitzoo/transformer/encoder_block.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <torch/nn/modules/linear.h>

#include "bitcore/errors.h"

namespace bitlab {
namespace bitzoo {
namespace {

EncoderBlock small_block() { return EncoderBlock(EncoderBlockOptions(16, 4, 32)); }

TEST(EncoderBlockTest, NamesItsChildrenLikeTimm) {
  std::vector<std::string> names;
  for (const auto& item : small_block()->named_modules("", /*include_self=*/false)) {
    names.push_back(item.key());
  }
  EXPECT_EQ(names, (std::vector<std::string>{"norm1", "attn", "attn.q", "attn.k", "attn.v",
                                             "attn.proj", "norm2", "mlp", "mlp.fc1", "mlp.fc2"}));
}

TEST(EncoderBlockTest, KeepsTheShape) {
  EncoderBlock block = small_block();
  EXPECT_EQ(block(torch::randn({3, 5, 16})).sizes(), (std::vector<int64_t>{3, 5, 16}));
}

// The attention computed by hand is softmax(QK^T / sqrt(head_dim)) V per head: with one token
// the softmax is 1, so the block is x + proj(v(norm1(x))) followed by the MLP residual.
TEST(EncoderBlockTest, OneTokenAttendsToItself) {
  EncoderBlock block = small_block();
  torch::NoGradGuard no_grad;
  const torch::Tensor x = torch::randn({2, 1, 16});
  const torch::Tensor y = x + block->attn->proj.forward(block->attn->v.forward(block->norm1(x)));
  const torch::Tensor expected = y + block->mlp(block->norm2(y));
  EXPECT_TRUE(torch::allclose(block(x), expected, 1e-5, 1e-6));
}

TEST(EncoderBlockTest, PaddedKeysDoNotChangeRealTokens) {
  EncoderBlock block = small_block();
  torch::NoGradGuard no_grad;
  const torch::Tensor x = torch::randn({2, 6, 16});
  torch::Tensor padding = torch::zeros({2, 6}, torch::kBool);
  padding.index_put_({0, torch::indexing::Slice(4)}, true);  // sample 0: 4 real tokens
  torch::Tensor changed = x.clone();
  changed.index_put_({0, torch::indexing::Slice(4)}, torch::randn({2, 16}) * 10);

  const torch::Tensor a = block(x, padding);
  const torch::Tensor b = block(changed, padding);
  using torch::indexing::Slice;
  EXPECT_TRUE(torch::equal(a.index({0, Slice(0, 4)}), b.index({0, Slice(0, 4)})));
  EXPECT_TRUE(torch::equal(a[1], b[1]));
  // Without the mask the change does reach the real tokens.
  EXPECT_FALSE(
      torch::allclose(block(x).index({0, Slice(0, 4)}), block(changed).index({0, Slice(0, 4)})));
}

TEST(EncoderBlockTest, AllPaddingStaysFinite) {
  EncoderBlock block = small_block();
  const torch::Tensor y = block(torch::randn({1, 4, 16}), torch::ones({1, 4}, torch::kBool));
  EXPECT_TRUE(torch::isfinite(y).all().item<bool>());
}

TEST(EncoderBlockTest, RejectsABadMask) {
  EncoderBlock block = small_block();
  const torch::Tensor x = torch::randn({2, 6, 16});
  try {
    block(x, torch::zeros({2, 5}, torch::kBool));
    FAIL() << "expected ShapeError";
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("key_padding_mask [2, 6] bool"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("[2, 5]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(block(x, torch::zeros({2, 6}, torch::kLong)), ShapeError);
  EXPECT_THROW(block(torch::randn({6, 16})), ShapeError);
}

TEST(EncoderBlockTest, HeadsMustDivideTheWidth) {
  EXPECT_THROW(EncoderSelfAttention(10, 4), BitLabError);
}

TEST(EncoderBlockTest, ReplaceChildRejectsUnknownNames) {
  EncoderBlock block = small_block();
  const torch::nn::AnyModule other(torch::nn::Linear(16, 16));
  EXPECT_THROW(block->attn->replace_child("qkv", other), BitLabError);
  EXPECT_THROW(block->mlp->replace_child("act", other), BitLabError);
}

TEST(EncoderBlockTest, InitializesLikeTimm) {
  EncoderBlock block(EncoderBlockOptions(256, 4, 1024));
  init_transformer_weights(*block);
  const torch::Tensor w = block->mlp->named_parameters()["fc1.weight"];
  EXPECT_NEAR(w.std().item<double>(), 0.02, 0.001);
  EXPECT_EQ(block->mlp->named_parameters()["fc1.bias"].abs().max().item<double>(), 0.0);
}

}  // namespace
}  // namespace bitzoo
}  // namespace bitlab
