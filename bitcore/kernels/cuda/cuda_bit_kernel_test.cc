// The registry's "cuda" kernel through the BitKernel interface (host pointers in and out)
// against the reference kernel: accumulators bit for bit, outputs within rtol 1e-5, for every
// int8 path int8_gemm picks (matrix-vector, small and large tiles). Without a GPU it checks
// that the kernel says so and skips the products.
#include "bitcore/kernels/cuda/cuda_bit_kernel.h"

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "bitcore/kernels/cuda/cuda_test_util.h"
#include "bitcore/kernels/reference/reference_kernel.h"
#include "bitcore/kernels/ternary_packing.h"

namespace bitlab {
namespace {

TEST(CudaBitKernelTest, DescribesItself) {
  const BitKernel& kernel = cuda_kernel();
  EXPECT_STREQ(kernel.name(), "cuda");
  EXPECT_EQ(kernel.device(), KernelDevice::kCuda);
  const std::string missing = cuda::missing_cuda_device();
  if (!missing.empty()) {
    EXPECT_NE(kernel.unsupported_reason().find("no CUDA device"), std::string::npos)
        << kernel.unsupported_reason();
  }
  EXPECT_FALSE(kernel.is_compatible_with(BitQuantConfig::from_string("af32_wpt")))
      << "float32 activations are not implemented on CUDA";
  EXPECT_TRUE(kernel.is_compatible_with(BitQuantConfig::from_string("ai8pc_wpc")));
}

TEST(CudaBitKernelTest, ProductsMatchTheReference) {
  const BitKernel& kernel = cuda_kernel();
  if (!kernel.is_supported()) GTEST_SKIP() << kernel.unsupported_reason();
  const uint32_t seed = std::random_device()();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> value(-127, 127);
  std::uniform_int_distribution<int> ternary(-1, 1);
  std::uniform_real_distribution<float> scale(0.01f, 1.0f);
  struct Shape {
    int64_t m, n, k;
  };
  for (const Shape s :
       {Shape{1, 33, 100}, Shape{5, 64, 4096}, Shape{40, 130, 300}, Shape{300, 257, 1000}}) {
    SCOPED_TRACE("m=" + std::to_string(s.m) + " n=" + std::to_string(s.n) +
                 " k=" + std::to_string(s.k));
    std::vector<int8_t> x(s.m * s.k), q(s.n * s.k);
    for (int8_t& v : x) v = static_cast<int8_t>(value(rng));
    for (int8_t& v : q) v = static_cast<int8_t>(ternary(rng));
    std::vector<uint8_t> t2(t2_packed_bytes(s.n, s.k));
    ASSERT_TRUE(pack_t2(q.data(), s.n, s.k, t2.data()));
    std::vector<uint8_t> packed(kernel.packed_weight_bytes(s.n, s.k));
    kernel.pack_weights(t2.data(), s.n, s.k, packed.data());
    std::vector<float> x_scale(s.m), w_scale(s.n), bias(s.n);
    for (float& v : x_scale) v = scale(rng);
    for (float& v : w_scale) v = scale(rng);
    for (float& v : bias) v = scale(rng);

    Int8GemmArgs args;
    args.m = s.m;
    args.n = s.n;
    args.k = s.k;
    args.x = x.data();
    args.x_scale = x_scale.data();
    args.x_scale_per_row = true;
    args.w_scale = w_scale.data();
    args.w_scale_per_channel = true;
    args.bias = bias.data();
    Int8GemmArgs reference_args = args;
    reference_args.w = t2.data();
    args.w = packed.data();

    std::vector<int32_t> acc(s.m * s.n, -1), acc_expected(s.m * s.n);
    std::vector<float> y(s.m * s.n, NAN), y_expected(s.m * s.n);
    kernel.int8_accumulate(args, acc.data());
    kernel.int8_gemm(args, 0, s.n, y.data());
    reference_kernel().int8_accumulate(reference_args, acc_expected.data());
    reference_kernel().int8_gemm(reference_args, 0, s.n, y_expected.data());
    ASSERT_EQ(acc, acc_expected);
    for (int64_t i = 0; i < s.m * s.n; ++i) {
      ASSERT_LE(std::fabs(y[i] - y_expected[i]), 1e-5f * std::fabs(y_expected[i])) << "at " << i;
    }
  }
}

}  // namespace
}  // namespace bitlab
