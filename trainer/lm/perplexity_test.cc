// heldout_perplexity: 256 for a model that knows nothing, every byte after the first of each
// chunk predicted exactly once (the chunk boundaries never), the model's mode restored.
#include "trainer/lm/perplexity.h"

#include <cmath>
#include <vector>

#include <torch/torch.h>

#include "bitcore/errors.h"
#include "gtest/gtest.h"

namespace bitlab {
namespace trainer {
namespace {

// Puts `logit` on byte (id + 1) % 256 after each id and 0 on every other byte (logit 0: every
// byte equally likely), and records what it was given.
class NextByteModel : public BitModel {
 public:
  explicit NextByteModel(double logit) : logit_(logit) {}

  torch::Tensor forward(const torch::Tensor& ids) override {
    inputs.push_back(ids.clone());
    grad_enabled.push_back(torch::GradMode::is_enabled());
    training.push_back(is_training());
    torch::Tensor logits = torch::zeros({ids.size(0), ids.size(1), 256});
    return logits.scatter_(2, (ids + 1).remainder(256).unsqueeze(2), logit_);
  }
  torch::Tensor example_input(int64_t batch) const override {
    return torch::zeros({batch, 4}, torch::kLong);
  }

  std::vector<torch::Tensor> inputs;
  std::vector<bool> grad_enabled;
  std::vector<bool> training;

 private:
  double logit_;
};

torch::Tensor bytes(const std::vector<int64_t>& values) {
  return torch::tensor(values, torch::kLong);
}

TEST(PerplexityTest, UniformModelHasPerplexity256InEvalModeWithoutGrad) {
  NextByteModel model(0);
  model.train();
  const double perplexity = heldout_perplexity(model, torch::randint(256, {1000}, torch::kLong),
                                               /*context_length=*/32, /*batch_size=*/4);
  EXPECT_NEAR(perplexity, 256.0, 256.0 * 1e-6);
  EXPECT_TRUE(model.is_training());  // restored
  ASSERT_FALSE(model.training.empty());
  for (size_t i = 0; i < model.training.size(); ++i) {
    EXPECT_FALSE(model.training[i]) << "forward " << i;
    EXPECT_FALSE(model.grad_enabled[i]) << "forward " << i;
  }
  model.eval();
  heldout_perplexity(model, torch::randint(256, {100}, torch::kLong), 32);
  EXPECT_FALSE(model.is_training());
}

TEST(PerplexityTest, ChunksPredictEveryByteAfterTheFirstOnce) {
  // context 3: chunks {0 1 2 3} {50 5 6 7} {80 9}. Predicted: 1 2 3 (right), 5 (wrong: after
  // 50), 6 7 (right), 9 (wrong: after 80); 3 -> 50 and 7 -> 80 cross chunks and are never
  // predicted, so 5 of the 7 predictions are right.
  const torch::Tensor text = bytes({0, 1, 2, 3, 50, 5, 6, 7, 80, 9});
  const double logit = 3.0;
  const double right = logit - std::log(std::exp(logit) + 255.0);  // log p of the +1 byte
  const double wrong = -std::log(std::exp(logit) + 255.0);
  NextByteModel model(logit);
  const double perplexity = heldout_perplexity(model, text, /*context_length=*/3, /*batch=*/2);
  EXPECT_NEAR(perplexity, std::exp(-(5 * right + 2 * wrong) / 7), 1e-9);
  // One forward for both full chunks, one for the partial chunk.
  ASSERT_EQ(model.inputs.size(), 2u);
  EXPECT_TRUE(torch::equal(model.inputs[0], bytes({0, 1, 2, 50, 5, 6}).view({2, 3})));
  EXPECT_TRUE(torch::equal(model.inputs[1], bytes({80}).view({1, 1})));

  // A final chunk of one token predicts nothing: {0 1 2 3} {50 5 6 7} {80}, 5 right, 1 wrong.
  NextByteModel shorter(logit);
  EXPECT_NEAR(heldout_perplexity(shorter, text.narrow(0, 0, 9), 3, 2),
              std::exp(-(5 * right + 1 * wrong) / 6), 1e-9);
  EXPECT_EQ(shorter.inputs.size(), 1u);
}

TEST(PerplexityTest, BatchSizeDoesNotChangeTheResult) {
  const torch::Tensor text = torch::randint(256, {517}, torch::kLong);
  NextByteModel model(1.5);
  const double one = heldout_perplexity(model, text, 16, 1);
  EXPECT_NEAR(heldout_perplexity(model, text, 16, 7), one, one * 1e-12);
  EXPECT_NEAR(heldout_perplexity(model, text, 16, 100), one, one * 1e-12);
}

TEST(PerplexityTest, RejectsBadArguments) {
  NextByteModel model(0);
  EXPECT_THROW(heldout_perplexity(model, bytes({1}), 4), ShapeError);
  EXPECT_THROW(heldout_perplexity(model, torch::zeros({8}, torch::kInt), 4), ShapeError);
  EXPECT_THROW(heldout_perplexity(model, torch::zeros({2, 4}, torch::kLong), 4), ShapeError);
  EXPECT_THROW(heldout_perplexity(model, bytes({1, 2, 3}), 0), BitLabError);
  EXPECT_THROW(heldout_perplexity(model, bytes({1, 2, 3}), 4, 0), BitLabError);
}

}  // namespace
}  // namespace trainer
}  // namespace bitlab
