// Every kernel built into this binary against the reference kernel, on a grid of shapes that
// includes 1, odd sizes, non-multiples of 4, 16, 64 and 256, and 4096; both weight and
// activation granularities; 1 and 2 threads. Integer accumulators must match bit for bit;
// outputs after the float rescale within rtol 1e-5 (the float32-activation path, whose sums
// may be ordered differently, within a bound on float summation error). Kernels the CPU cannot
// run are skipped with the reason. Data is drawn afresh each run; failures print the seed.
//
// No libtorch: the test builds for every architecture, so the aarch64 build (--config=neon)
// runs it on the ARM kernels under qemu, once per emulated CPU (see BUILD).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "bitcore/kernel_registry.h"
#include "bitcore/kernels/bit_kernel.h"
#include "bitcore/kernels/reference/reference_kernel.h"
#include "bitcore/kernels/ternary_packing.h"

namespace bitlab {
namespace {

struct Shape {
  int64_t m, n, k;
};

std::vector<Shape> shape_grid() {
  const int64_t ms[] = {1, 2, 3, 4, 5, 7, 16, 33, 128};
  const std::pair<int64_t, int64_t> nks[] = {
      {1, 1},    {1, 5},      {3, 17},   {16, 16},   {17, 33},  {31, 64},   {64, 255},
      {65, 257}, {100, 1000}, {8, 4096}, {33, 4096}, {4096, 7}, {4096, 33}, {4096, 4096}};
  std::vector<Shape> grid;
  for (int64_t m : ms) {
    for (const auto& [n, k] : nks) {
      // Keep the scalar oracle's work per shape under ~0.2 s.
      if (m * n * k <= (int64_t{1} << 26)) grid.push_back({m, n, k});
    }
  }
  return grid;
}

// Runs fn over [0, n) cut into `threads` ranges starting at multiples of `block`, each range on
// a thread of its own, as bitlinear splits a product among threads (bitcore/parallel.h).
template <typename Fn>
void for_column_ranges(int64_t n, int64_t block, int threads, const Fn& fn) {
  const int64_t blocks = (n + block - 1) / block;
  const int64_t per_range = (blocks + threads - 1) / threads * block;
  std::vector<std::thread> workers;
  for (int64_t begin = 0; begin < n; begin += per_range) {
    workers.emplace_back([&fn, begin, end = std::min(n, begin + per_range)] { fn(begin, end); });
  }
  for (std::thread& worker : workers) worker.join();
}

std::string describe(const Shape& s) {
  return "m=" + std::to_string(s.m) + " n=" + std::to_string(s.n) + " k=" + std::to_string(s.k);
}

class KernelConformanceTest : public ::testing::TestWithParam<const BitKernel*> {
 protected:
  void SetUp() override {
    const std::string reason = GetParam()->unsupported_reason();
    if (!reason.empty()) GTEST_SKIP() << GetParam()->name() << ": " << reason;
    seed_ = std::random_device()();
    rng_.seed(seed_);
  }

  std::vector<int8_t> random_int8(int64_t count, int lo, int hi) {
    std::uniform_int_distribution<int> dist(lo, hi);
    std::vector<int8_t> v(count);
    for (auto& x : v) x = static_cast<int8_t>(dist(rng_));
    return v;
  }
  std::vector<float> random_float(int64_t count, float lo, float hi) {
    std::uniform_real_distribution<float> dist(lo, hi);
    std::vector<float> v(count);
    for (auto& x : v) x = dist(rng_);
    return v;
  }
  // Random ternary weights as canonical t2, and repacked for `kernel`.
  std::vector<uint8_t> random_t2(const Shape& s) {
    const auto q = random_int8(s.n * s.k, -1, 1);
    std::vector<uint8_t> t2(t2_packed_bytes(s.n, s.k));
    pack_t2(q.data(), s.n, s.k, t2.data());
    return t2;
  }
  static std::vector<uint8_t> pack_for(const BitKernel& kernel, const std::vector<uint8_t>& t2,
                                       const Shape& s) {
    std::vector<uint8_t> packed(kernel.packed_weight_bytes(s.n, s.k));
    kernel.pack_weights(t2.data(), s.n, s.k, packed.data());
    return packed;
  }

  uint32_t seed_ = 0;
  std::mt19937 rng_;
};

TEST_P(KernelConformanceTest, Int8AccumulatorsAreBitExact) {
  const BitKernel& kernel = *GetParam();
  SCOPED_TRACE("seed " + std::to_string(seed_));
  for (const Shape& s : shape_grid()) {
    const auto x = random_int8(s.m * s.k, -127, 127);
    const auto t2 = random_t2(s);
    const auto packed = pack_for(kernel, t2, s);
    Int8GemmArgs args;
    args.m = s.m;
    args.n = s.n;
    args.k = s.k;
    args.x = x.data();
    std::vector<int32_t> expected(s.m * s.n), actual(s.m * s.n, INT32_MIN);
    args.w = t2.data();
    reference_kernel().int8_accumulate(args, expected.data());
    args.w = packed.data();
    kernel.int8_accumulate(args, actual.data());
    for (int64_t i = 0; i < s.m * s.n; ++i) {
      ASSERT_EQ(actual[i], expected[i])
          << kernel.name() << " " << describe(s) << " at [" << i / s.n << ", " << i % s.n << "]";
    }
  }
}

TEST_P(KernelConformanceTest, Int8OutputsMatchTheReference) {
  const BitKernel& kernel = *GetParam();
  SCOPED_TRACE("seed " + std::to_string(seed_));
  for (const Shape& s : shape_grid()) {
    const auto x = random_int8(s.m * s.k, -127, 127);
    const auto t2 = random_t2(s);
    const auto packed = pack_for(kernel, t2, s);
    const auto x_scale = random_float(s.m, 0.001f, 0.05f);
    const auto w_scale = random_float(s.n, 0.2f, 2.0f);
    const auto bias = random_float(s.n, -1.0f, 1.0f);
    for (bool per_row : {false, true}) {
      for (bool per_channel : {false, true}) {
        Int8GemmArgs args;
        args.m = s.m;
        args.n = s.n;
        args.k = s.k;
        args.x = x.data();
        args.x_scale = x_scale.data();
        args.x_scale_per_row = per_row;
        args.w_scale = w_scale.data();
        args.w_scale_per_channel = per_channel;
        args.bias = per_channel ? bias.data() : nullptr;
        // Row sums from the caller (as bitlinear passes them) half of the time.
        std::vector<int32_t> sums(s.m, 0);
        for (int64_t i = 0; i < s.m * s.k; ++i) sums[i / s.k] += x[i];
        if (per_row) args.x_row_sums = sums.data();
        // The reference runs once for both thread counts (under emulation it is most of the
        // test's time).
        std::vector<float> expected(s.m * s.n);
        args.w = t2.data();
        reference_kernel().int8_gemm(args, 0, s.n, expected.data());
        args.w = packed.data();
        for (int threads : {1, 2}) {
          std::vector<float> actual(s.m * s.n, std::nanf(""));
          for_column_ranges(s.n, kernel.n_block(), threads, [&](int64_t begin, int64_t end) {
            kernel.int8_gemm(args, begin, end, actual.data());
          });
          for (int64_t i = 0; i < s.m * s.n; ++i) {
            ASSERT_NEAR(actual[i], expected[i], 1e-5f * std::fabs(expected[i]))
                << kernel.name() << " " << describe(s) << " per_row=" << per_row
                << " per_channel=" << per_channel << " threads=" << threads << " at [" << i / s.n
                << ", " << i % s.n << "]";
          }
        }
      }
    }
  }
}

TEST_P(KernelConformanceTest, ActivationQuantizationIsBitExact) {
  const BitKernel& kernel = *GetParam();
  SCOPED_TRACE("seed " + std::to_string(seed_));
  for (const Shape& s : shape_grid()) {
    auto x = random_float(s.m * s.k, -3.0f, 3.0f);
    if (s.m > 1) std::fill(x.begin() + s.k, x.begin() + 2 * s.k, 0.0f);  // an all-zero row
    for (Granularity g : {Granularity::kPerTensor, Granularity::kPerChannel}) {
      const int64_t scales = g == Granularity::kPerChannel ? s.m : 1;
      std::vector<int8_t> q_expected(s.m * s.k), q_actual(s.m * s.k, 99);
      std::vector<float> s_expected(scales), s_actual(scales, -1.0f);
      std::vector<int32_t> sums_expected(s.m), sums_actual(s.m, INT32_MIN);
      reference_kernel().quantize_activations(x.data(), s.m, s.k, g, 1e-5f, q_expected.data(),
                                              s_expected.data(), sums_expected.data());
      kernel.quantize_activations(x.data(), s.m, s.k, g, 1e-5f, q_actual.data(), s_actual.data(),
                                  sums_actual.data());
      for (int64_t r = 0; r < s.m; ++r) {
        ASSERT_EQ(sums_actual[r], sums_expected[r])
            << kernel.name() << " " << describe(s) << " row sum " << r;
      }
      for (int64_t i = 0; i < scales; ++i) {
        ASSERT_EQ(s_actual[i], s_expected[i])
            << kernel.name() << " " << describe(s) << " scale " << i;
      }
      for (int64_t i = 0; i < s.m * s.k; ++i) {
        ASSERT_EQ(q_actual[i], q_expected[i])
            << kernel.name() << " " << describe(s) << " granularity " << to_string(g) << " at ["
            << i / s.k << ", " << i % s.k << "], x = " << x[i];
      }
    }
  }
}

TEST_P(KernelConformanceTest, Float32OutputsMatchTheReference) {
  const BitKernel& kernel = *GetParam();
  if (!kernel.is_compatible_with(BitQuantConfig::from_string("af32_wpt"))) {
    GTEST_SKIP() << kernel.name() << " does not implement float32 activations";
  }
  SCOPED_TRACE("seed " + std::to_string(seed_));
  for (const Shape& s : shape_grid()) {
    const auto x = random_float(s.m * s.k, -2.0f, 2.0f);
    const auto t2 = random_t2(s);
    const auto packed = pack_for(kernel, t2, s);
    const auto w_scale = random_float(s.n, 0.2f, 2.0f);
    const auto bias = random_float(s.n, -1.0f, 1.0f);
    // Row sums of |x| bound the summation error of any order: |err| <= k * eps * sum|x| * g.
    std::vector<float> abs_sums(s.m, 0.0f);
    for (int64_t i = 0; i < s.m * s.k; ++i) abs_sums[i / s.k] += std::fabs(x[i]);
    for (bool per_channel : {false, true}) {
      Float32GemmArgs args;
      args.m = s.m;
      args.n = s.n;
      args.k = s.k;
      args.x = x.data();
      args.w_scale = w_scale.data();
      args.w_scale_per_channel = per_channel;
      args.bias = bias.data();
      std::vector<float> expected(s.m * s.n);
      args.w = t2.data();
      reference_kernel().float32_gemm(args, 0, s.n, expected.data());
      args.w = packed.data();
      for (int threads : {1, 2}) {
        std::vector<float> actual(s.m * s.n, std::nanf(""));
        for_column_ranges(s.n, kernel.n_block(), threads, [&](int64_t begin, int64_t end) {
          kernel.float32_gemm(args, begin, end, actual.data());
        });
        for (int64_t i = 0; i < s.m * s.n; ++i) {
          const float g = per_channel ? w_scale[i % s.n] : w_scale[0];
          const float bound = 1e-5f * std::fabs(expected[i]) +
                              static_cast<float>(s.k) * 6e-8f * abs_sums[i / s.n] * g;
          ASSERT_NEAR(actual[i], expected[i], bound)
              << kernel.name() << " " << describe(s) << " per_channel=" << per_channel
              << " threads=" << threads << " at [" << i / s.n << ", " << i % s.n << "]";
        }
      }
    }
  }
}

std::vector<const BitKernel*> kernels_under_test() {
  std::vector<const BitKernel*> kernels;
  for (const BitKernel* kernel : KernelRegistry::built_kernels()) {
    if (kernel != &reference_kernel()) kernels.push_back(kernel);  // the oracle itself
  }
  return kernels;
}

INSTANTIATE_TEST_SUITE_P(BuiltKernels, KernelConformanceTest,
                         ::testing::ValuesIn(kernels_under_test()),
                         [](const ::testing::TestParamInfo<const BitKernel*>& info) {
                           return std::string(info.param->name());
                         });
// A build with only the reference kernel (neither x86-64 nor aarch64) has nothing to compare.
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(KernelConformanceTest);

}  // namespace
}  // namespace bitlab
