// Every kernel built into this binary against the reference kernel, on a grid of shapes that
// includes 1, odd sizes, non-multiples of 4, 16, 64 and 256, and 4096; both weight and
// activation granularities; 1 and 2 threads. Integer accumulators must match bit for bit;
// outputs after the float rescale within rtol 1e-5 (the float32-activation path, whose sums
// may be ordered differently, within a bound on float summation error). Kernels the CPU cannot
// run are skipped with the reason. Data is drawn afresh each run; failures print the seed.
//
// Each test's inputs are drawn once per process and the reference's results on them computed
// once, then every kernel is checked against those same results: the scalar reference was
// most of the test's time under qemu, and running it again for each kernel (and for each
// scale configuration) repeated identical work.
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
#include "bitcore/kernels/reference/ukernels.h"
#include "bitcore/kernels/ternary_packing.h"

namespace bitlab {
namespace {

struct Shape {
  int64_t m, n, k;
};

// The most scalar multiply-adds one shape may take: the full grid keeps the scalar oracle's
// work per shape under ~0.2 s natively.
//
// The emulated-core variants (BUILD) stop at 2^20, which drops the 18 largest of the 121
// shapes, 94% of the work. Those cores run the same kernel code as `-cpu max` does (a kernel's
// code does not depend on the CPU: only which kernels run does, and SetUp skips the others by
// name, as arm_kernels_test checks), so what they add is that every code path of the kernels
// they run uses only that core's instructions (qemu raises SIGILL otherwise). The paths depend
// on m mod 4 and mod 2 (rows of a tile), n mod 8 and mod 4 (column blocks, partial stores), k
// mod 16 and mod 32 (weight blocks), k past 496 (the int16 sums' widening interval) and the
// thread split, not on size, and the 103 shapes left still have every m, n and k of the grid.
#ifdef BITLAB_CONFORMANCE_REPRESENTATIVE_GRID
constexpr int64_t kMaxShapeWork = int64_t{1} << 20;
#else
constexpr int64_t kMaxShapeWork = int64_t{1} << 26;
#endif

std::vector<Shape> shape_grid() {
  const int64_t ms[] = {1, 2, 3, 4, 5, 7, 16, 33, 128};
  const std::pair<int64_t, int64_t> nks[] = {
      {1, 1},    {1, 5},      {3, 17},   {16, 16},   {17, 33},  {31, 64},   {64, 255},
      {65, 257}, {100, 1000}, {8, 4096}, {33, 4096}, {4096, 7}, {4096, 33}, {4096, 4096}};
  std::vector<Shape> grid;
  for (int64_t m : ms) {
    for (const auto& [n, k] : nks) {
      if (m * n * k <= kMaxShapeWork) grid.push_back({m, n, k});
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

// The seed of this process's data, drawn once.
uint32_t seed() {
  static const uint32_t seed = std::random_device()();
  return seed;
}

std::vector<int8_t> random_int8(std::mt19937& rng, int64_t count, int lo, int hi) {
  std::uniform_int_distribution<int> dist(lo, hi);
  std::vector<int8_t> v(count);
  for (auto& x : v) x = static_cast<int8_t>(dist(rng));
  return v;
}
std::vector<float> random_float(std::mt19937& rng, int64_t count, float lo, float hi) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(count);
  for (auto& x : v) x = dist(rng);
  return v;
}
// Random ternary weights as canonical t2 (the reference kernel's layout).
std::vector<uint8_t> random_t2(std::mt19937& rng, const Shape& s) {
  const auto q = random_int8(rng, s.n * s.k, -1, 1);
  std::vector<uint8_t> t2(t2_packed_bytes(s.n, s.k));
  pack_t2(q.data(), s.n, s.k, t2.data());
  return t2;
}
std::vector<uint8_t> pack_for(const BitKernel& kernel, const std::vector<uint8_t>& t2,
                              const Shape& s) {
  std::vector<uint8_t> packed(kernel.packed_weight_bytes(s.n, s.k));
  kernel.pack_weights(t2.data(), s.n, s.k, packed.data());
  return packed;
}

// One case per shape of the grid, drawn by `draw` from stream `stream` of this process's seed;
// each kind of case is drawn (and the reference run on it) once per process.
template <typename Case>
std::vector<Case> draw_cases(uint32_t stream, Case (*draw)(std::mt19937&, const Shape&)) {
  std::mt19937 rng(seed() + stream);
  std::vector<Case> cases;
  for (const Shape& s : shape_grid()) cases.push_back(draw(rng, s));
  return cases;
}

// One shape's int8 inputs and the reference's results on them: the exact accumulators, and
// the outputs for activation scales per tensor / per row x weight scales per tensor / per
// channel.
struct Int8Case {
  Shape s;
  std::vector<int8_t> x;
  std::vector<uint8_t> t2;
  std::vector<float> x_scale, w_scale, bias;
  std::vector<int32_t> row_sums;
  std::vector<int32_t> acc;
  std::vector<float> y[2][2];  // [per_row][per_channel]

  // `w` is t2 for the reference, a kernel's packing of it otherwise.
  Int8GemmArgs accumulate_args(const uint8_t* w) const {
    Int8GemmArgs args;
    args.m = s.m;
    args.n = s.n;
    args.k = s.k;
    args.x = x.data();
    args.w = w;
    return args;
  }
  Int8GemmArgs gemm_args(const uint8_t* w, bool per_row, bool per_channel) const {
    Int8GemmArgs args = accumulate_args(w);
    args.x_scale = x_scale.data();
    args.x_scale_per_row = per_row;
    args.w_scale = w_scale.data();
    args.w_scale_per_channel = per_channel;
    args.bias = per_channel ? bias.data() : nullptr;
    // Row sums from the caller (as bitlinear passes them) half of the time.
    if (per_row) args.x_row_sums = row_sums.data();
    return args;
  }
};

Int8Case draw_int8_case(std::mt19937& rng, const Shape& s) {
  Int8Case c;
  c.s = s;
  c.x = random_int8(rng, s.m * s.k, -127, 127);
  c.t2 = random_t2(rng, s);
  c.x_scale = random_float(rng, s.m, 0.001f, 0.05f);
  c.w_scale = random_float(rng, s.n, 0.2f, 2.0f);
  c.bias = random_float(rng, s.n, -1.0f, 1.0f);
  c.row_sums.assign(s.m, 0);
  for (int64_t i = 0; i < s.m * s.k; ++i) c.row_sums[i / s.k] += c.x[i];
  c.acc.resize(s.m * s.n);
  reference_kernel().int8_accumulate(c.accumulate_args(c.t2.data()), c.acc.data());
  // The reference's int8_gemm is these accumulators put through its rescale: rescaling
  // them for each scale configuration gives its outputs without redoing the product.
  for (bool per_row : {false, true}) {
    for (bool per_channel : {false, true}) {
      const Int8GemmArgs args = c.gemm_args(c.t2.data(), per_row, per_channel);
      std::vector<float>& y = c.y[per_row][per_channel];
      y.resize(s.m * s.n);
      for (int64_t i = 0; i < s.m * s.n; ++i) {
        y[i] = internal::qd8_rescale__scalar(args, i / s.n, i % s.n, c.acc[i]);
      }
    }
  }
  return c;
}

const std::vector<Int8Case>& int8_cases() {
  static const std::vector<Int8Case> cases = draw_cases(0, draw_int8_case);
  return cases;
}

// One shape's float activations (the second row all zero) and the reference's quantization of
// them, per tensor and per channel.
struct QuantizationCase {
  Shape s;
  std::vector<float> x;
  std::vector<int8_t> q[2];  // [Granularity::kPerChannel]
  std::vector<float> scales[2];
  std::vector<int32_t> sums[2];
};

QuantizationCase draw_quantization_case(std::mt19937& rng, const Shape& s) {
  QuantizationCase c;
  c.s = s;
  c.x = random_float(rng, s.m * s.k, -3.0f, 3.0f);
  if (s.m > 1) std::fill(c.x.begin() + s.k, c.x.begin() + 2 * s.k, 0.0f);  // an all-zero row
  for (Granularity g : {Granularity::kPerTensor, Granularity::kPerChannel}) {
    const bool per_channel = g == Granularity::kPerChannel;
    c.q[per_channel].resize(s.m * s.k);
    c.scales[per_channel].resize(per_channel ? s.m : 1);
    c.sums[per_channel].resize(s.m);
    reference_kernel().quantize_activations(c.x.data(), s.m, s.k, g, 1e-5f, c.q[per_channel].data(),
                                            c.scales[per_channel].data(),
                                            c.sums[per_channel].data());
  }
  return c;
}

const std::vector<QuantizationCase>& quantization_cases() {
  static const std::vector<QuantizationCase> cases = draw_cases(1, draw_quantization_case);
  return cases;
}

// One shape's float32-activation inputs and the reference's outputs with weight scales per
// tensor / per channel.
struct Float32Case {
  Shape s;
  std::vector<float> x;
  std::vector<uint8_t> t2;
  std::vector<float> w_scale, bias;
  // Row sums of |x| bound the summation error of any order: |err| <= k * eps * sum|x| * g.
  std::vector<float> abs_sums;
  std::vector<float> y[2];  // [per_channel]

  // `w` is t2 for the reference, a kernel's packing of it otherwise.
  Float32GemmArgs args(const uint8_t* w, bool per_channel) const {
    Float32GemmArgs args;
    args.m = s.m;
    args.n = s.n;
    args.k = s.k;
    args.x = x.data();
    args.w = w;
    args.w_scale = w_scale.data();
    args.w_scale_per_channel = per_channel;
    args.bias = bias.data();
    return args;
  }
};

Float32Case draw_float32_case(std::mt19937& rng, const Shape& s) {
  Float32Case c;
  c.s = s;
  c.x = random_float(rng, s.m * s.k, -2.0f, 2.0f);
  c.t2 = random_t2(rng, s);
  c.w_scale = random_float(rng, s.n, 0.2f, 2.0f);
  c.bias = random_float(rng, s.n, -1.0f, 1.0f);
  c.abs_sums.assign(s.m, 0.0f);
  for (int64_t i = 0; i < s.m * s.k; ++i) c.abs_sums[i / s.k] += std::fabs(c.x[i]);
  // The reference's product before its rescale, once: its float32_gemm with a weight scale
  // of 1 and no bias, as sum * 1 is sum exactly. Each scale configuration's outputs are
  // then the reference's rescale of it.
  const float one = 1.0f;
  Float32GemmArgs unscaled = c.args(c.t2.data(), /*per_channel=*/false);
  unscaled.w_scale = &one;
  unscaled.bias = nullptr;
  std::vector<float> sums(s.m * s.n);
  reference_kernel().float32_gemm(unscaled, 0, s.n, sums.data());
  for (bool per_channel : {false, true}) {
    const Float32GemmArgs args = c.args(c.t2.data(), per_channel);
    c.y[per_channel].resize(s.m * s.n);
    for (int64_t i = 0; i < s.m * s.n; ++i) {
      c.y[per_channel][i] = internal::f32_rescale__scalar(args, i % s.n, sums[i]);
    }
  }
  return c;
}

const std::vector<Float32Case>& float32_cases() {
  static const std::vector<Float32Case> cases = draw_cases(2, draw_float32_case);
  return cases;
}

class KernelConformanceTest : public ::testing::TestWithParam<const BitKernel*> {
 protected:
  void SetUp() override {
    const std::string reason = GetParam()->unsupported_reason();
    if (!reason.empty()) GTEST_SKIP() << GetParam()->name() << ": " << reason;
  }
};

TEST_P(KernelConformanceTest, Int8AccumulatorsAreBitExact) {
  const BitKernel& kernel = *GetParam();
  SCOPED_TRACE("seed " + std::to_string(seed()));
  for (const Int8Case& c : int8_cases()) {
    const Shape& s = c.s;
    const auto packed = pack_for(kernel, c.t2, s);
    std::vector<int32_t> actual(s.m * s.n, INT32_MIN);
    kernel.int8_accumulate(c.accumulate_args(packed.data()), actual.data());
    for (int64_t i = 0; i < s.m * s.n; ++i) {
      ASSERT_EQ(actual[i], c.acc[i])
          << kernel.name() << " " << describe(s) << " at [" << i / s.n << ", " << i % s.n << "]";
    }
  }
}

TEST_P(KernelConformanceTest, Int8OutputsMatchTheReference) {
  const BitKernel& kernel = *GetParam();
  SCOPED_TRACE("seed " + std::to_string(seed()));
  for (const Int8Case& c : int8_cases()) {
    const Shape& s = c.s;
    const auto packed = pack_for(kernel, c.t2, s);
    for (bool per_row : {false, true}) {
      for (bool per_channel : {false, true}) {
        const Int8GemmArgs args = c.gemm_args(packed.data(), per_row, per_channel);
        const std::vector<float>& expected = c.y[per_row][per_channel];
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
  SCOPED_TRACE("seed " + std::to_string(seed()));
  for (const QuantizationCase& c : quantization_cases()) {
    const Shape& s = c.s;
    for (Granularity g : {Granularity::kPerTensor, Granularity::kPerChannel}) {
      const bool per_channel = g == Granularity::kPerChannel;
      const int64_t scales = per_channel ? s.m : 1;
      std::vector<int8_t> q_actual(s.m * s.k, 99);
      std::vector<float> s_actual(scales, -1.0f);
      std::vector<int32_t> sums_actual(s.m, INT32_MIN);
      kernel.quantize_activations(c.x.data(), s.m, s.k, g, 1e-5f, q_actual.data(), s_actual.data(),
                                  sums_actual.data());
      for (int64_t r = 0; r < s.m; ++r) {
        ASSERT_EQ(sums_actual[r], c.sums[per_channel][r])
            << kernel.name() << " " << describe(s) << " row sum " << r;
      }
      for (int64_t i = 0; i < scales; ++i) {
        ASSERT_EQ(s_actual[i], c.scales[per_channel][i])
            << kernel.name() << " " << describe(s) << " scale " << i;
      }
      for (int64_t i = 0; i < s.m * s.k; ++i) {
        ASSERT_EQ(q_actual[i], c.q[per_channel][i])
            << kernel.name() << " " << describe(s) << " granularity " << to_string(g) << " at ["
            << i / s.k << ", " << i % s.k << "], x = " << c.x[i];
      }
    }
  }
}

TEST_P(KernelConformanceTest, Float32OutputsMatchTheReference) {
  const BitKernel& kernel = *GetParam();
  if (!kernel.is_compatible_with(BitQuantConfig::from_string("af32_wpt"))) {
    GTEST_SKIP() << kernel.name() << " does not implement float32 activations";
  }
  SCOPED_TRACE("seed " + std::to_string(seed()));
  for (const Float32Case& c : float32_cases()) {
    const Shape& s = c.s;
    const auto packed = pack_for(kernel, c.t2, s);
    for (bool per_channel : {false, true}) {
      const Float32GemmArgs args = c.args(packed.data(), per_channel);
      const std::vector<float>& expected = c.y[per_channel];
      for (int threads : {1, 2}) {
        std::vector<float> actual(s.m * s.n, std::nanf(""));
        for_column_ranges(s.n, kernel.n_block(), threads, [&](int64_t begin, int64_t end) {
          kernel.float32_gemm(args, begin, end, actual.data());
        });
        for (int64_t i = 0; i < s.m * s.n; ++i) {
          const float g = per_channel ? c.w_scale[i % s.n] : c.w_scale[0];
          const float bound = 1e-5f * std::fabs(expected[i]) +
                              static_cast<float>(s.k) * 6e-8f * c.abs_sums[i / s.n] * g;
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
