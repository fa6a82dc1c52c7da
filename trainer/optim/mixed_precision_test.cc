// AutocastGuard: a Linear forward computes in bf16 under the guard and in float32 again after
// it, nested guards restore the outer state, and fp16 on CPU is refused.
#include "trainer/optim/mixed_precision.h"

#include <ATen/autocast_mode.h>
#include <torch/nn/modules/linear.h>

#include "bitcore/errors.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace bitlab {
namespace trainer {
namespace {

TEST(AutocastGuardTest, Bf16LinearOnCpuAndRestoredAfter) {
  torch::nn::Linear linear(8, 4);
  const torch::Tensor x = torch::randn({2, 8});
  ASSERT_FALSE(at::autocast::is_cpu_enabled());
  const at::ScalarType dtype_before = at::autocast::get_autocast_cpu_dtype();
  {
    AutocastGuard guard("bf16", torch::kCPU);
    EXPECT_TRUE(guard.active());
    EXPECT_TRUE(at::autocast::is_cpu_enabled());
    const torch::Tensor y = linear(x);
    EXPECT_EQ(y.scalar_type(), torch::kBFloat16);
    // The parameters stay float32; gradients flow back to them.
    EXPECT_EQ(linear->weight.scalar_type(), torch::kFloat);
    y.to(torch::kFloat).sum().backward();
    EXPECT_EQ(linear->weight.grad().scalar_type(), torch::kFloat);
    // bf16 agrees with float32 to bf16's precision (8 bits of mantissa).
    at::autocast::set_cpu_enabled(false);
    const torch::Tensor reference = linear(x);
    at::autocast::set_cpu_enabled(true);
    EXPECT_TRUE(torch::allclose(y.to(torch::kFloat), reference, 0.05, 0.05));
  }
  EXPECT_FALSE(at::autocast::is_cpu_enabled());
  EXPECT_EQ(at::autocast::get_autocast_cpu_dtype(), dtype_before);
  EXPECT_EQ(linear(x).scalar_type(), torch::kFloat);
}

TEST(AutocastGuardTest, NoneDoesNothing) {
  torch::nn::Linear linear(8, 4);
  AutocastGuard guard("none");
  EXPECT_FALSE(guard.active());
  EXPECT_FALSE(at::autocast::is_cpu_enabled());
  EXPECT_EQ(linear(torch::randn({2, 8})).scalar_type(), torch::kFloat);
}

TEST(AutocastGuardTest, NestedGuardsRestoreTheOuterState) {
  AutocastGuard outer("bf16");
  {
    AutocastGuard inner("bf16");
    EXPECT_TRUE(at::autocast::is_cpu_enabled());
  }
  // The inner guard found autocast on and leaves it on.
  EXPECT_TRUE(at::autocast::is_cpu_enabled());
  EXPECT_EQ(at::autocast::get_autocast_cpu_dtype(), at::kBFloat16);
}

TEST(AutocastGuardTest, Fp16OnCpuAndUnknownModesThrow) {
  try {
    AutocastGuard guard("fp16", torch::kCPU);
    ADD_FAILURE() << "no BitLabError for fp16 on CPU";
  } catch (const BitLabError& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("fp16 autocast needs CUDA; use bf16 on CPU"));
  }
  EXPECT_FALSE(at::autocast::is_cpu_enabled());
  EXPECT_THROW(AutocastGuard("fp32"), BitLabError);
  EXPECT_THROW(AutocastGuard("bf16", torch::kMeta), BitLabError);
}

}  // namespace
}  // namespace trainer
}  // namespace bitlab
