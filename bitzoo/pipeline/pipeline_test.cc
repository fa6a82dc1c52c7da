#include "bitzoo/pipeline/pipeline.h"

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <ATen/TensorOperators.h>
#include <ATen/core/grad_mode.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/full.h>
#include <ATen/ops/one_hot.h>
#include <ATen/ops/randint.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/remainder.h>
#include <ATen/ops/zeros.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/nn/modules/linear.h>

#include "bitcore/errors.h"
#include "bitmodels/auto_bit_config.h"
#include "bitmodels/bit_model.h"
#include "bitmodels/causal_lm.h"
#include "bitzoo/pipeline/image_io.h"

namespace bitlab {
namespace bitzoo {
namespace {

using ::testing::HasSubstr;

// Classifies 8 x 8 gray images: class "left" scores the mean of the left half, "right" that
// of the right half, "neither" a constant 0.5.
class HalvesClassifier : public BitModel {
 public:
  HalvesClassifier() {
    linear_ = register_module("linear", torch::nn::Linear(64, 3));
    torch::NoGradGuard no_grad;
    const at::Tensor weight = linear_->weight.view({3, 8, 8});
    weight.zero_();
    weight[0].narrow(1, 0, 4).fill_(1.0 / 32);
    weight[1].narrow(1, 4, 4).fill_(1.0 / 32);
    linear_->bias.copy_(at::tensor({0.0f, 0.0f, 0.5f}));
    config.model_type = "halves";
    ImageInput input;
    input.channels = 1;
    input.height = 8;
    input.width = 8;
    input.mean = {0.0};
    input.std = {1.0};
    input.labels = {"left", "right", "neither"};
    config.image_input = input;
  }

  at::Tensor forward(const at::Tensor& input) override {
    forward_was_training = is_training();
    forward_had_grad = at::GradMode::is_enabled();
    return linear_->forward(input.flatten(1));
  }
  at::Tensor example_input(int64_t batch) const override { return at::randn({batch, 1, 8, 8}); }

  bool forward_was_training = true;
  bool forward_had_grad = true;

 private:
  torch::nn::Linear linear_{nullptr};
};

// Continues any byte sequence with the following byte values: "abc" -> "abcdef...".
class CountingLM : public BitModel, public CausalLM {
 public:
  CountingLM() {
    config.model_type = "counting";
    config.tokenizer = "byte";
  }

  at::Tensor forward(const at::Tensor& ids) override {
    return at::one_hot(at::remainder(ids + 1, 256), 256).to(at::kFloat);
  }
  at::Tensor example_input(int64_t batch) const override { return at::randint(0, 256, {batch, 4}); }
  at::Tensor generate(const at::Tensor& prompt_ids, const GenerationOptions& options) override {
    forward_was_training = is_training();
    at::Tensor ids = prompt_ids;
    for (int64_t i = 0; i < options.max_new_tokens; ++i) {
      ids = at::cat({ids, forward(ids).select(1, -1).argmax(-1, /*keepdim=*/true)}, 1);
    }
    return ids;
  }
  int64_t vocab_size() const override { return 256; }
  int64_t max_sequence_length() const override { return 1024; }

  bool forward_was_training = true;
};

template <typename Callable>
void expect_error(Callable call, const std::vector<std::string>& fragments) {
  try {
    call();
    FAIL() << "expected a BitLabError";
  } catch (const BitLabError& e) {
    for (const std::string& fragment : fragments) EXPECT_THAT(e.what(), HasSubstr(fragment));
  }
}

TEST(PipelineTest, ClassifiesAnImageFile) {
  // 16 x 16 RGB, white on the left: gray, halved to 8 x 8, it is 1 on the left and 0 on the
  // right, so the logits are [1, 0, 0.5].
  const at::Tensor pixels = at::zeros({16, 16, 3}, at::kByte);
  pixels.narrow(1, 0, 8).fill_(255);
  const std::string path = ::testing::TempDir() + "/left.png";
  write_png(path, pixels);
  auto model = std::make_shared<HalvesClassifier>();
  model->train();
  Pipeline pipeline("image-classification", model);

  const std::vector<Prediction> predictions = pipeline.classify_file(path, /*top_k=*/10);
  ASSERT_EQ(predictions.size(), 3);
  const double total = std::exp(1.0) + std::exp(0.0) + std::exp(0.5);
  EXPECT_EQ(predictions[0].class_id, 0);
  EXPECT_EQ(predictions[0].label, "left");
  EXPECT_NEAR(predictions[0].score, std::exp(1.0) / total, 1e-5);
  EXPECT_EQ(predictions[1].label, "neither");
  EXPECT_NEAR(predictions[1].score, std::exp(0.5) / total, 1e-5);
  EXPECT_EQ(predictions[2].label, "right");
  EXPECT_EQ(predictions[2].class_id, 1);
  double sum = 0;
  for (size_t i = 0; i < predictions.size(); ++i) {
    if (i > 0) {
      EXPECT_GE(predictions[i - 1].score, predictions[i].score);
    }
    sum += predictions[i].score;
  }
  EXPECT_NEAR(sum, 1.0, 1e-12);
  EXPECT_FALSE(model->forward_was_training);
  EXPECT_FALSE(model->forward_had_grad);

  EXPECT_EQ(pipeline.classify_file(path, /*top_k=*/1).size(), 1);
  expect_error([&] { pipeline.classify_file(path, /*top_k=*/0); }, {"top_k is 0"});
}

TEST(PipelineTest, ClassifiesPreprocessedTensorsAndNamesUnlabeledClasses) {
  auto model = std::make_shared<HalvesClassifier>();
  model->config.image_input->labels.clear();
  Pipeline pipeline("image-classification", model);
  const at::Tensor right = at::zeros({1, 8, 8});
  right.narrow(2, 4, 4).fill_(3.0);
  for (const at::Tensor& image : {right, right.unsqueeze(0)}) {
    const std::vector<Prediction> top = pipeline.classify(image, 1);
    ASSERT_EQ(top.size(), 1);
    EXPECT_EQ(top[0].class_id, 1);
    EXPECT_EQ(top[0].label, "class 1");
  }
  EXPECT_THROW(pipeline.classify(at::zeros({1, 4, 4}), 1), ShapeError);
  EXPECT_THROW(pipeline.classify(at::zeros({2, 1, 8, 8}), 1), ShapeError);
}

TEST(PipelineTest, ClassificationNeedsImageInputAndMatchingLabels) {
  auto model = std::make_shared<HalvesClassifier>();
  model->config.image_input.reset();
  expect_error([&] { Pipeline("image-classification", model); }, {"halves", "\"image_input\""});

  auto mislabeled = std::make_shared<HalvesClassifier>();
  mislabeled->config.image_input->labels = {"left", "right"};
  Pipeline pipeline("image-classification", mislabeled);
  expect_error([&] { pipeline.classify(at::zeros({1, 8, 8})); }, {"2 labels", "3 classes"});
}

TEST(PipelineTest, RejectsUnknownTasksAndMismatchedCalls) {
  expect_error([] { Pipeline("translation", std::make_shared<HalvesClassifier>()); },
               {"\"translation\"", "\"image-classification\"", "\"text-generation\""});
  expect_error([] { Pipeline("image-classification", nullptr); }, {"null"});
  Pipeline classifier("image-classification", std::make_shared<HalvesClassifier>());
  expect_error([&] { classifier.generate("abc"); }, {"generate", "\"text-generation\""});
  Pipeline generator("text-generation", std::make_shared<CountingLM>());
  expect_error([&] { generator.classify(at::zeros({1, 8, 8})); }, {"\"image-classification\""});
}

TEST(PipelineTest, GeneratesText) {
  auto model = std::make_shared<CountingLM>();
  model->train();
  Pipeline pipeline("text-generation", model);
  GenerationOptions options;
  options.max_new_tokens = 3;
  EXPECT_EQ(pipeline.generate("abc", options), "abcdef");
  EXPECT_FALSE(model->forward_was_training);
}

TEST(PipelineTest, GenerationNeedsACausalLmWithTheByteTokenizer) {
  expect_error([] { Pipeline("text-generation", std::make_shared<HalvesClassifier>()); },
               {"halves", "CausalLM"});
  auto model = std::make_shared<CountingLM>();
  model->config.tokenizer = "";
  expect_error([&] { Pipeline("text-generation", model); }, {"tokenizer \"\"", "\"byte\""});
}

}  // namespace
}  // namespace bitzoo
}  // namespace bitlab
