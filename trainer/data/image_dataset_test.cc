#include "trainer/data/image_dataset.h"

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <ATen/TensorIndexing.h>
#include <ATen/TensorOperators.h>
#include <ATen/ops/allclose.h>
#include <ATen/ops/bincount.h>
#include <ATen/ops/cdist.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/stack.h>
#include <ATen/ops/tensor.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "bitcore/errors.h"
#include "trainer/data/synthetic.h"
#include "trainer/data/transforms.h"

namespace bitlab {
namespace trainer {
namespace {

using ::testing::HasSubstr;

// Two 1 x 2 x 2 images and two classes.
ImageClassificationData tiny() {
  ImageClassificationData data;
  data.images = at::tensor({0, 51, 102, 255, 255, 0, 0, 255}, at::kByte).view({2, 1, 2, 2});
  data.labels = at::tensor({1, 0}, at::kLong);
  data.class_names = {"dark", "light"};
  data.mean = {0.5};
  data.stddev = {0.25};
  return data;
}

std::string validate_error(const ImageClassificationData& data) {
  try {
    data.validate("here");
  } catch (const BitLabError& e) {
    return e.what();
  }
  return "no error";
}

TEST(ImageClassificationDataTest, ValidateAcceptsGoodData) {
  EXPECT_EQ(validate_error(tiny()), "no error");
  EXPECT_EQ(tiny().size(), 2);
  EXPECT_EQ(tiny().channels(), 1);
  EXPECT_EQ(tiny().num_classes(), 2);
}

TEST(ImageClassificationDataTest, ValidateNamesWhatIsWrong) {
  ImageClassificationData data = tiny();
  data.images = data.images.to(at::kFloat);
  EXPECT_THAT(validate_error(data),
              HasSubstr("here: images are Float [2, 1, 2, 2], expected Byte"));
  data = tiny();
  data.labels = at::tensor({1}, at::kLong);
  EXPECT_THAT(validate_error(data), HasSubstr("labels are Long [1], expected Long [2]"));
  data = tiny();
  data.labels = at::tensor({0, 2}, at::kLong);
  EXPECT_THAT(validate_error(data), HasSubstr("sample 1 has label 2, expected 0..1"));
  data = tiny();
  data.labels = at::tensor({-1, 0}, at::kLong);
  EXPECT_THAT(validate_error(data), HasSubstr("sample 0 has label -1"));
  data = tiny();
  data.class_names.clear();
  EXPECT_THAT(validate_error(data), HasSubstr("no class names"));
  data = tiny();
  data.mean = {0.5, 0.5};
  EXPECT_THAT(validate_error(data), HasSubstr("mean has 2 values and stddev 1"));
  data = tiny();
  data.stddev = {0};
  EXPECT_THAT(validate_error(data), HasSubstr("stddev value 0 is not > 0"));
}

TEST(ImageDatasetTest, GetNormalizes) {
  ImageDataset dataset(tiny());
  EXPECT_EQ(dataset.size().value(), 2u);
  const torch::data::Example<> example = dataset.get(0);
  EXPECT_EQ(example.data.scalar_type(), at::kFloat);
  EXPECT_TRUE(
      at::allclose(example.data,
                   (at::tensor({0, 51, 102, 255}, at::kFloat).view({1, 2, 2}) / 255 - 0.5) / 0.25));
  EXPECT_EQ(example.target.scalar_type(), at::kLong);
  EXPECT_EQ(example.target.dim(), 0);
  EXPECT_EQ(example.target.item<int64_t>(), 1);
  EXPECT_THROW(dataset.get(2), BitLabError);
}

TEST(ImageDatasetTest, AugmentsPerSeedEpochAndIndex) {
  SyntheticOptions synthetic;
  synthetic.samples = 8;
  synthetic.height = 6;
  synthetic.width = 6;
  const AugmentOptions augment{2, true};
  ImageDataset plain(make_synthetic(synthetic));
  ImageDataset augmented = ImageDataset(make_synthetic(synthetic), augment).for_epoch(5, 3);
  ImageDataset next_epoch = augmented.for_epoch(5, 4);
  const double mean = plain.data().mean[0], stddev = plain.data().stddev[0];
  int changed = 0;
  for (size_t i = 0; i < 8; ++i) {
    // Zero padding happens before normalization: augment in pixel space ([0, 1]).
    const at::Tensor pixels = plain.get(i).data * stddev + mean;
    const AugmentDraw draw = draw_augmentation(augment, 5, 3, static_cast<int64_t>(i));
    const at::Tensor want = (apply_augmentation(pixels, augment, draw) - mean) / stddev;
    const at::Tensor got = augmented.get(i).data;
    EXPECT_TRUE(at::allclose(got, want, 1e-5, 1e-5)) << i;
    // Another copy, another call: the same sample.
    ImageDataset copy = augmented;
    EXPECT_TRUE(at::equal(got, copy.get(i).data));
    changed += !at::equal(got, next_epoch.get(i).data);
  }
  EXPECT_GT(changed, 4);
}

TEST(SyntheticTest, DeterministicBalancedAndValid) {
  SyntheticOptions options;
  options.samples = 100;
  options.classes = 4;
  const ImageClassificationData a = make_synthetic(options);
  const ImageClassificationData b = make_synthetic(options);
  EXPECT_EQ(a.images.sizes(), (std::vector<int64_t>{100, 1, 16, 16}));
  EXPECT_TRUE(at::equal(a.images, b.images));
  EXPECT_TRUE(at::equal(a.labels, b.labels));
  EXPECT_TRUE(at::equal(at::bincount(a.labels), at::tensor({25, 25, 25, 25}, at::kLong)));
  EXPECT_EQ(a.class_names[3], "class_3");
  a.validate("synthetic");
  // The stated normalization fits the pixels.
  const at::Tensor pixels = a.images.to(at::kFloat) / 255;
  EXPECT_NEAR(pixels.mean().item<double>(), a.mean[0], 0.03);
  EXPECT_NEAR(pixels.std().item<double>(), a.stddev[0], 0.03);

  options.seed = 1;
  EXPECT_FALSE(at::equal(make_synthetic(options).images, a.images));
  EXPECT_THROW(make_synthetic(SyntheticOptions{10, 0}), BitLabError);
}

// A nearest-class-mean classifier fit on one split classifies another (different sample_stream,
// same seed) well: the classes are learnable and shared across splits.
TEST(SyntheticTest, LearnableAcrossSplits) {
  SyntheticOptions options;
  options.samples = 400;
  options.channels = 3;
  options.height = 8;
  options.width = 8;
  const ImageClassificationData train = make_synthetic(options);
  options.sample_stream = 1;
  const ImageClassificationData test = make_synthetic(options);
  EXPECT_FALSE(at::equal(train.images, test.images));

  const at::Tensor x_train = train.images.to(at::kFloat).flatten(1);
  std::vector<at::Tensor> means;
  for (int64_t k = 0; k < options.classes; ++k) {
    means.push_back(x_train.index({train.labels == k}).mean(0));
  }
  const at::Tensor centroids = at::stack(means);
  const at::Tensor x_test = test.images.to(at::kFloat).flatten(1);
  const at::Tensor distances = at::cdist(x_test, centroids);
  const double accuracy = (distances.argmin(1) == test.labels).to(at::kFloat).mean().item<double>();
  EXPECT_GT(accuracy, 0.9);
}

}  // namespace
}  // namespace trainer
}  // namespace bitlab
