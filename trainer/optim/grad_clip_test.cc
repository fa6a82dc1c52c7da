// clip_grad_norm: the total 2-norm over all gradients, scaling only above max_norm, params
// without gradients skipped, and non-finite norms left alone.
#include "trainer/optim/grad_clip.h"

#include <cmath>
#include <limits>
#include <vector>

#include <ATen/ATen.h>

#include "bitcore/errors.h"
#include "gtest/gtest.h"

namespace bitlab {
namespace trainer {
namespace {

at::Tensor param_with_grad(std::vector<double> grad) {
  at::Tensor param = at::zeros({static_cast<int64_t>(grad.size())}, at::kDouble);
  param.set_requires_grad(true);
  param.mutable_grad() = at::tensor(grad, at::kDouble);
  return param;
}

TEST(ClipGradNormTest, ScalesAllGradientsWhenTheTotalNormIsTooLarge) {
  // Norms 5 (3-4-5) and 12: total sqrt(25 + 144) = 13.
  const std::vector<at::Tensor> params = {param_with_grad({3, 4}), param_with_grad({12})};
  EXPECT_NEAR(clip_grad_norm(params, 6.5), 13, 1e-12);
  const double scale = 6.5 / (13 + 1e-6);
  EXPECT_NEAR(params[0].grad()[0].item<double>(), 3 * scale, 1e-12);
  EXPECT_NEAR(params[0].grad()[1].item<double>(), 4 * scale, 1e-12);
  EXPECT_NEAR(params[1].grad()[0].item<double>(), 12 * scale, 1e-12);
  // Now 13 * scale, under a max_norm of 7: left as is.
  EXPECT_NEAR(clip_grad_norm(params, 7), 13 * scale, 1e-12);
  EXPECT_NEAR(params[1].grad()[0].item<double>(), 12 * scale, 1e-12);
}

TEST(ClipGradNormTest, LeavesSmallGradientsAlone) {
  const std::vector<at::Tensor> params = {param_with_grad({3, 4}), param_with_grad({12})};
  EXPECT_NEAR(clip_grad_norm(params, 20), 13, 1e-12);
  EXPECT_EQ(params[0].grad()[1].item<double>(), 4);
  EXPECT_EQ(params[1].grad()[0].item<double>(), 12);
}

TEST(ClipGradNormTest, SkipsParametersWithoutGradients) {
  at::Tensor no_grad = at::ones({3}, at::kDouble);
  no_grad.set_requires_grad(true);
  const std::vector<at::Tensor> params = {no_grad, param_with_grad({3, 4}), at::Tensor()};
  EXPECT_NEAR(clip_grad_norm(params, 1), 5, 1e-12);
  EXPECT_NEAR(params[1].grad()[0].item<double>(), 3 / (5 + 1e-6), 1e-12);
  EXPECT_FALSE(no_grad.grad().defined());
  EXPECT_EQ(clip_grad_norm({no_grad}, 1), 0);
  EXPECT_EQ(clip_grad_norm({}, 1), 0);
}

TEST(ClipGradNormTest, FloatGradientsAndMixedDtypes) {
  at::Tensor param = at::zeros({2}, at::kFloat);
  param.set_requires_grad(true);
  param.mutable_grad() = at::tensor({6.0f, 8.0f});
  const std::vector<at::Tensor> params = {param, param_with_grad({0})};
  EXPECT_NEAR(clip_grad_norm(params, 5), 10, 1e-6);
  EXPECT_NEAR(param.grad()[0].item<float>(), 3, 1e-5);
  EXPECT_EQ(param.grad().scalar_type(), at::kFloat);
}

TEST(ClipGradNormTest, NonFiniteNormIsReturnedWithoutScaling) {
  const std::vector<at::Tensor> params = {
      param_with_grad({std::numeric_limits<double>::infinity(), 1}), param_with_grad({2})};
  EXPECT_TRUE(std::isinf(clip_grad_norm(params, 1)));
  EXPECT_EQ(params[0].grad()[1].item<double>(), 1);
  EXPECT_EQ(params[1].grad()[0].item<double>(), 2);
  const std::vector<at::Tensor> nan = {param_with_grad({std::nan(""), 1})};
  EXPECT_TRUE(std::isnan(clip_grad_norm(nan, 1)));
  EXPECT_EQ(nan[0].grad()[1].item<double>(), 1);
}

TEST(ClipGradNormTest, MaxNormMustBePositive) {
  const std::vector<at::Tensor> params = {param_with_grad({1})};
  EXPECT_THROW(clip_grad_norm(params, 0), BitLabError);
  EXPECT_THROW(clip_grad_norm(params, -1), BitLabError);
}

}  // namespace
}  // namespace trainer
}  // namespace bitlab
