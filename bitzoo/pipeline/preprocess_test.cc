#include "bitzoo/pipeline/preprocess.h"

#include <cstdint>
#include <vector>

#include <ATen/ops/allclose.h>
#include <ATen/ops/full.h>
#include <ATen/ops/tensor.h>
#include <gtest/gtest.h>

#include "bitcore/errors.h"
#include "bitmodels/auto_bit_config.h"

namespace bitlab {
namespace bitzoo {
namespace {

ImageInput gray_input(int64_t height, int64_t width, double mean, double std) {
  ImageInput input;
  input.channels = 1;
  input.height = height;
  input.width = width;
  input.mean = {mean};
  input.std = {std};
  return input;
}

at::Tensor image(const std::vector<int>& values, int64_t height, int64_t width, int64_t channels) {
  return at::tensor(values).to(at::kByte).view({height, width, channels});
}

TEST(PreprocessTest, ScalesAndNormalizesEachPixel) {
  const std::vector<int> values = {0, 51, 200, 255};
  const at::Tensor x = preprocess_image(image(values, 2, 2, 1), gray_input(2, 2, 0.25, 0.5));
  EXPECT_EQ(x.sizes(), (std::vector<int64_t>{1, 1, 2, 2}));
  EXPECT_EQ(x.scalar_type(), at::kFloat);
  for (int i = 0; i < 4; ++i) {
    const float expected = (values[i] / 255.0f - 0.25f) / 0.5f;
    EXPECT_FLOAT_EQ(x.view({-1})[i].item<float>(), expected) << i;
  }
}

TEST(PreprocessTest, NormalizesPerChannel) {
  ImageInput input;
  input.height = 1;
  input.width = 1;
  input.mean = {0.1, 0.2, 0.3};
  input.std = {0.5, 0.25, 2.0};
  const at::Tensor x = preprocess_image(image({255, 0, 51}, 1, 1, 3), input);
  EXPECT_EQ(x.sizes(), (std::vector<int64_t>{1, 3, 1, 1}));
  EXPECT_FLOAT_EQ(x.view({-1})[0].item<float>(), (1.0f - 0.1f) / 0.5f);
  EXPECT_FLOAT_EQ(x.view({-1})[1].item<float>(), (0.0f - 0.2f) / 0.25f);
  EXPECT_FLOAT_EQ(x.view({-1})[2].item<float>(), (0.2f - 0.3f) / 2.0f);
}

TEST(PreprocessTest, ConvertsRgbToGrayWithItu601Weights) {
  const ImageInput input = gray_input(1, 4, 0.0, 1.0);
  const at::Tensor x =
      preprocess_image(image({255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255}, 1, 4, 3), input);
  EXPECT_TRUE(at::allclose(x.view({-1}), at::tensor({0.299f, 0.587f, 0.114f, 1.0f}), 0, 1e-6)) << x;
}

TEST(PreprocessTest, RepeatsGrayIntoRgb) {
  ImageInput input;
  input.height = 1;
  input.width = 2;
  input.mean = {0, 0, 0};
  input.std = {1, 1, 1};
  const at::Tensor x = preprocess_image(image({0, 255}, 1, 2, 1), input);
  EXPECT_TRUE(at::allclose(x, at::tensor({0.0f, 1.0f, 0.0f, 1.0f, 0.0f, 1.0f}).view({1, 3, 1, 2})))
      << x;
}

TEST(PreprocessTest, ResizesBilinearly) {
  // A constant image stays constant at any size.
  const at::Tensor constant =
      preprocess_image(at::full({5, 7, 1}, 102, at::kByte), gray_input(3, 11, 0.0, 1.0));
  EXPECT_EQ(constant.sizes(), (std::vector<int64_t>{1, 1, 3, 11}));
  EXPECT_TRUE(at::allclose(constant, at::full({1, 1, 3, 11}, 0.4f))) << constant;
  // align_corners false: doubling [0, 255] samples at source x = -0.25, 0.25, 0.75, 1.25,
  // clamped at the borders.
  const at::Tensor ramp = preprocess_image(image({0, 255}, 1, 2, 1), gray_input(1, 4, 0.0, 1.0));
  EXPECT_TRUE(at::allclose(ramp.view({-1}), at::tensor({0.0f, 0.25f, 0.75f, 1.0f}))) << ramp;
}

TEST(PreprocessTest, RejectsBadImagesAndInputs) {
  const at::Tensor gray = at::full({2, 2, 1}, 1, at::kByte);
  EXPECT_THROW(preprocess_image(at::full({2, 2, 1}, 1.0f), gray_input(2, 2, 0, 1)), ShapeError);
  EXPECT_THROW(preprocess_image(at::full({2, 2, 2}, 1, at::kByte), gray_input(2, 2, 0, 1)),
               ShapeError);
  EXPECT_THROW(preprocess_image(gray, gray_input(0, 2, 0, 1)), BitLabError);
  EXPECT_THROW(preprocess_image(gray, gray_input(2, 2, 0, 0)), BitLabError);
  ImageInput two_means = gray_input(2, 2, 0, 1);
  two_means.mean = {0, 0};
  EXPECT_THROW(preprocess_image(gray, two_means), BitLabError);
  ImageInput four_channels = gray_input(2, 2, 0, 1);
  four_channels.channels = 4;
  EXPECT_THROW(preprocess_image(gray, four_channels), BitLabError);
}

}  // namespace
}  // namespace bitzoo
}  // namespace bitlab
