#include "trainer/data/transforms.h"

#include <cstdint>
#include <set>
#include <tuple>
#include <utility>

#include <ATen/ops/allclose.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/tensor.h>
#include <ATen/ops/zeros.h>
#include <gtest/gtest.h>

#include "bitcore/errors.h"

namespace bitlab {
namespace trainer {
namespace {

// [1, 3, 3] holding 1 .. 9 row by row.
at::Tensor one_to_nine() { return at::arange(1, 10, at::kFloat).view({1, 3, 3}); }

at::Tensor rows(std::initializer_list<float> values) {
  return at::tensor(values, at::kFloat).view({1, 3, 3});
}

TEST(CropPaddedTest, CentreWindowIsTheImage) {
  EXPECT_TRUE(at::equal(crop_padded(one_to_nine(), 1, 1, 1), one_to_nine()));
  EXPECT_TRUE(at::equal(crop_padded(one_to_nine(), 0, 0, 0), one_to_nine()));
}

TEST(CropPaddedTest, CornerWindowsShiftWithZeroFill) {
  // The top-left window of the padded image: the content moves down and right.
  EXPECT_TRUE(at::equal(crop_padded(one_to_nine(), 1, 0, 0), rows({0, 0, 0, 0, 1, 2, 0, 4, 5})));
  // The bottom-right one: up and left.
  EXPECT_TRUE(at::equal(crop_padded(one_to_nine(), 1, 2, 2), rows({5, 6, 0, 8, 9, 0, 0, 0, 0})));
  // Only down by 2.
  EXPECT_TRUE(at::equal(crop_padded(one_to_nine(), 2, 0, 2), rows({0, 0, 0, 0, 0, 0, 1, 2, 3})));
  // Padding wider than the image: a window entirely in the padding.
  EXPECT_TRUE(at::equal(crop_padded(one_to_nine(), 4, 0, 8), at::zeros({1, 3, 3})));
}

TEST(CropPaddedTest, ShiftsEveryChannelAlike) {
  const at::Tensor image = at::arange(18, at::kFloat).view({2, 3, 3});
  const at::Tensor out = crop_padded(image, 1, 0, 1);
  for (int c = 0; c < 2; ++c) {
    EXPECT_TRUE(at::equal(out[c][0], at::zeros({3})));
    EXPECT_TRUE(at::equal(out[c].slice(0, 1, 3), image[c].slice(0, 0, 2)));
  }
}

TEST(CropPaddedTest, RejectsBadArguments) {
  EXPECT_THROW(crop_padded(one_to_nine(), 1, 3, 0), BitLabError);
  EXPECT_THROW(crop_padded(one_to_nine(), 1, 0, -1), BitLabError);
  EXPECT_THROW(crop_padded(at::zeros({3, 3}), 1, 0, 0), ShapeError);
}

TEST(FlipHorizontalTest, MirrorsColumns) {
  EXPECT_TRUE(at::equal(flip_horizontal(one_to_nine()), rows({3, 2, 1, 6, 5, 4, 9, 8, 7})));
  EXPECT_THROW(flip_horizontal(at::zeros({3})), ShapeError);
}

TEST(NormalizeTest, PerChannel) {
  const at::Tensor image = at::tensor({0.5f, 1.0f, 0.0f, 0.25f}, at::kFloat).view({2, 1, 2});
  const at::Tensor out = normalize(image, at::tensor({0.5f, 0.25f}, at::kFloat),
                                   at::tensor({0.5f, 0.25f}, at::kFloat));
  EXPECT_TRUE(at::allclose(out, at::tensor({0.0f, 1.0f, -1.0f, 0.0f}).view({2, 1, 2})));
  EXPECT_THROW(normalize(image, at::tensor({0.5f}), at::tensor({0.5f})), ShapeError);
}

TEST(DrawAugmentationTest, IsAPureFunctionOfSeedEpochIndex) {
  const AugmentOptions options{4, true};
  for (int64_t index = 0; index < 20; ++index) {
    const AugmentDraw a = draw_augmentation(options, 7, 3, index);
    const AugmentDraw b = draw_augmentation(options, 7, 3, index);
    EXPECT_EQ(a.crop_top, b.crop_top);
    EXPECT_EQ(a.crop_left, b.crop_left);
    EXPECT_EQ(a.flip, b.flip);
  }
}

TEST(DrawAugmentationTest, CoversTheRangeAndVariesWithEachKey) {
  const AugmentOptions options{2, true};
  std::set<int64_t> tops, lefts;
  std::set<bool> flips;
  int differ_by_epoch = 0, differ_by_seed = 0;
  auto key = [](const AugmentDraw& d) { return std::make_tuple(d.crop_top, d.crop_left, d.flip); };
  for (int64_t index = 0; index < 200; ++index) {
    const AugmentDraw draw = draw_augmentation(options, 1, 0, index);
    EXPECT_GE(draw.crop_top, 0);
    EXPECT_LE(draw.crop_top, 4);
    EXPECT_GE(draw.crop_left, 0);
    EXPECT_LE(draw.crop_left, 4);
    tops.insert(draw.crop_top);
    lefts.insert(draw.crop_left);
    flips.insert(draw.flip);
    differ_by_epoch += key(draw) != key(draw_augmentation(options, 1, 1, index));
    differ_by_seed += key(draw) != key(draw_augmentation(options, 2, 0, index));
  }
  EXPECT_EQ(tops.size(), 5u);
  EXPECT_EQ(lefts.size(), 5u);
  EXPECT_EQ(flips.size(), 2u);
  // 50 combinations: a draw repeats by chance about once in 50.
  EXPECT_GT(differ_by_epoch, 150);
  EXPECT_GT(differ_by_seed, 150);
}

TEST(ApplyAugmentationTest, FollowsTheOptionsAndTheDraw) {
  const at::Tensor image = one_to_nine();
  const AugmentDraw draw{0, 2, true};
  EXPECT_TRUE(at::equal(apply_augmentation(image, AugmentOptions{}, draw), image));
  EXPECT_TRUE(
      at::equal(apply_augmentation(image, AugmentOptions{0, true}, draw), flip_horizontal(image)));
  EXPECT_TRUE(at::equal(apply_augmentation(image, AugmentOptions{1, false}, draw),
                        crop_padded(image, 1, 0, 2)));
  // Crop, then flip.
  EXPECT_TRUE(at::equal(apply_augmentation(image, AugmentOptions{1, true}, draw),
                        rows({0, 0, 0, 0, 3, 2, 0, 6, 5})));
  EXPECT_TRUE(at::equal(
      apply_augmentation(image, AugmentOptions{1, true}, AugmentDraw{1, 1, false}), image));
}

}  // namespace
}  // namespace trainer
}  // namespace bitlab
