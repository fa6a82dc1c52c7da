// Every CUDA kernel against the reference CPU kernel: int32 accumulators and quantized
// activations bit for bit, outputs within rtol 1e-5 (the 16-bit-activation path, whose float
// sums are ordered differently, within 1e-5 of the sum of |terms|). Inputs are drawn afresh
// each run (failures print the seed), outputs are poisoned before each run, and every CUDA
// call's status is checked. Without a GPU the tests skip, naming what is missing.
#include "bitcore/kernels/cuda/cuda_kernels.h"

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <gtest/gtest.h>

#include "bitcore/kernels/bit_kernel.h"
#include "bitcore/kernels/cuda/cuda_test_util.h"
#include "bitcore/kernels/cuda/cuda_weight_layout.h"
#include "bitcore/kernels/reference/reference_kernel.h"
#include "bitcore/kernels/ternary_packing.h"

namespace bitlab {
namespace cuda {
namespace {

struct Shape {
  int64_t m, n, k;
};

std::string describe(const Shape& s) {
  return "(m, n, k) = (" + std::to_string(s.m) + ", " + std::to_string(s.n) + ", " +
         std::to_string(s.k) + ")";
}

class CudaKernelsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string missing = missing_cuda_device();
    if (!missing.empty()) GTEST_SKIP() << missing;
    seed_ = std::random_device()();
    rng_.seed(seed_);
  }

  std::vector<float> random_float(int64_t count, float lo, float hi) {
    std::uniform_real_distribution<float> dist(lo, hi);
    std::vector<float> v(count);
    for (float& x : v) x = dist(rng_);
    return v;
  }

  std::vector<int8_t> random_int8(int64_t count) {
    std::uniform_int_distribution<int> dist(-127, 127);
    std::vector<int8_t> v(count);
    for (int8_t& x : v) x = static_cast<int8_t>(dist(rng_));
    return v;
  }

  // Canonical t2 weights of n x k random ternary values.
  std::vector<uint8_t> random_t2(int64_t n, int64_t k) {
    std::uniform_int_distribution<int> dist(-1, 1);
    std::vector<int8_t> q(n * k);
    for (int8_t& x : q) x = static_cast<int8_t>(dist(rng_));
    std::vector<uint8_t> t2(t2_packed_bytes(n, k));
    EXPECT_TRUE(pack_t2(q.data(), n, k, t2.data()));
    return t2;
  }

  // Rows of k int8 values, zero-padded to cuda_padded_k(k).
  static std::vector<int8_t> pad_rows(const std::vector<int8_t>& x, int64_t m, int64_t k) {
    const int64_t padded_k = cuda_padded_k(k);
    std::vector<int8_t> padded(m * padded_k, 0);
    for (int64_t r = 0; r < m; ++r) {
      std::copy(x.begin() + r * k, x.begin() + (r + 1) * k, padded.begin() + r * padded_k);
    }
    return padded;
  }

  // Checks one int8 path on one shape against the reference kernel.
  void check_int8(const Shape& s, Int8Path path) {
    SCOPED_TRACE(describe(s));
    const bool per_row = (s.m + s.n) % 2 == 0;
    const bool per_channel = s.n % 2 == 1;
    const std::vector<int8_t> x = random_int8(s.m * s.k);
    std::vector<int32_t> row_sums(s.m, 0);
    for (int64_t i = 0; i < s.m * s.k; ++i) row_sums[i / s.k] += x[i];
    const std::vector<float> x_scale = random_float(per_row ? s.m : 1, 0.001f, 0.1f);
    const std::vector<float> w_scale = random_float(per_channel ? s.n : 1, 0.1f, 2.0f);
    const std::vector<float> bias = random_float(s.n, -1.0f, 1.0f);
    const bool with_bias = s.k % 2 == 1;
    const std::vector<uint8_t> t2 = random_t2(s.n, s.k);

    bitlab::Int8GemmArgs host;
    host.m = s.m;
    host.n = s.n;
    host.k = s.k;
    host.x = x.data();
    host.x_scale = x_scale.data();
    host.x_scale_per_row = per_row;
    host.w = t2.data();
    host.w_scale = w_scale.data();
    host.w_scale_per_channel = per_channel;
    host.bias = with_bias ? bias.data() : nullptr;
    std::vector<int32_t> acc_expected(s.m * s.n);
    std::vector<float> y_expected(s.m * s.n);
    reference_kernel().int8_accumulate(host, acc_expected.data());
    reference_kernel().int8_gemm(host, 0, s.n, y_expected.data());

    std::vector<uint8_t> packed(cuda_packed_weight_bytes(s.n, s.k));
    pack_cuda_weights(t2.data(), s.n, s.k, packed.data());
    DeviceBuffer<int8_t> d_x(pad_rows(x, s.m, s.k));
    DeviceBuffer<int32_t> d_sums(row_sums);
    DeviceBuffer<float> d_x_scale(x_scale), d_w_scale(w_scale), d_bias(bias);
    DeviceBuffer<uint8_t> d_w(packed);
    DeviceBuffer<int32_t> d_acc(s.m * s.n);
    DeviceBuffer<float> d_y(s.m * s.n);
    d_acc.poison();
    d_y.poison();

    cuda::Int8GemmArgs args;
    args.m = s.m;
    args.n = s.n;
    args.k = s.k;
    args.x = d_x.get();
    args.x_scale = d_x_scale.get();
    args.x_scale_per_row = per_row;
    args.x_row_sums = d_sums.get();
    args.w = d_w.get();
    args.w_scale = d_w_scale.get();
    args.w_scale_per_channel = per_channel;
    args.bias = with_bias ? d_bias.get() : nullptr;
    BITLAB_CUDA_CHECK(int8_gemm(args, d_acc.get(), d_y.get(), nullptr, path));
    BITLAB_CUDA_CHECK(cudaDeviceSynchronize());
    const std::vector<int32_t> acc = d_acc.download();
    const std::vector<float> y = d_y.download();
    for (int64_t i = 0; i < s.m * s.n; ++i) {
      ASSERT_EQ(acc[i], acc_expected[i]) << "accumulator [" << i / s.n << ", " << i % s.n << "]";
      ASSERT_LE(std::fabs(y[i] - y_expected[i]), 1e-5f * std::fabs(y_expected[i]))
          << "output [" << i / s.n << ", " << i % s.n << "]: " << y[i] << " vs " << y_expected[i];
    }
  }

  uint32_t seed_ = 0;
  std::mt19937 rng_;
};

const Shape kGemvShapes[] = {{1, 1, 1},      {1, 5, 33},      {1, 17, 300}, {1, 64, 4096},
                             {1, 1000, 129}, {1, 4099, 1000}, {1, 3, 16384}};

TEST_F(CudaKernelsTest, Int8GemvMatchesTheReference) {
  SCOPED_TRACE("seed " + std::to_string(seed_));
  for (int64_t m = 1; m <= kMaxGemvRows; ++m) {
    for (Shape s : kGemvShapes) {
      s.m = m;
      check_int8(s, Int8Path::kGemv);
      if (HasFatalFailure()) return;
    }
  }
}

const Shape kTensorCoreShapes[] = {{1, 1, 1},         {9, 8, 32},       {16, 67, 300},
                                   {33, 256, 4096},   {130, 129, 1000}, {257, 1000, 2048},
                                   {300, 2048, 1024}, {64, 130, 16384}};

TEST_F(CudaKernelsTest, Int8TensorCoreSmallTilesMatchTheReference) {
  SCOPED_TRACE("seed " + std::to_string(seed_));
  for (const Shape& s : kTensorCoreShapes) {
    check_int8(s, Int8Path::kTensorCoreSmall);
    if (HasFatalFailure()) return;
  }
}

TEST_F(CudaKernelsTest, Int8TensorCoreLargeTilesMatchTheReference) {
  SCOPED_TRACE("seed " + std::to_string(seed_));
  for (const Shape& s : kTensorCoreShapes) {
    check_int8(s, Int8Path::kTensorCoreLarge);
    if (HasFatalFailure()) return;
  }
}

TEST_F(CudaKernelsTest, Int8HopperTensorCoresMatchTheReference) {
  if (!hopper_tensor_cores_available()) {
    GTEST_SKIP() << "the wgmma path needs a compute capability 9.0 GPU (H100, H200)";
  }
  SCOPED_TRACE("seed " + std::to_string(seed_));
  for (const Shape& s : kTensorCoreShapes) {
    check_int8(s, Int8Path::kTensorCoreHopper);
    if (HasFatalFailure()) return;
  }
}

TEST_F(CudaKernelsTest, QuantizationIsBitExact) {
  SCOPED_TRACE("seed " + std::to_string(seed_));
  const Shape shapes[] = {{1, 0, 1}, {3, 0, 17}, {5, 0, 300}, {16, 0, 4096}, {2, 0, 16384}};
  for (const Shape& s : shapes) {
    SCOPED_TRACE(describe(s));
    std::vector<float> x = random_float(s.m * s.k, -3.0f, 3.0f);
    if (s.m > 2) std::fill(x.begin() + s.k, x.begin() + 2 * s.k, 0.0f);  // an all-zero row
    if (s.k >= 4) {
      // Exact ties: with absmax 127 the factor is 1, so 2.5 must round to 2 and -3.5 to -4.
      x[0] = 127.0f;
      x[1] = 2.5f;
      x[2] = -3.5f;
      x[3] = 0.5f;
    }
    for (const bool per_token : {true, false}) {
      const int64_t scales = per_token ? s.m : 1;
      std::vector<int8_t> q_expected(s.m * s.k);
      std::vector<float> s_expected(scales);
      std::vector<int32_t> sums_expected(s.m);
      reference_kernel().quantize_activations(
          x.data(), s.m, s.k, per_token ? Granularity::kPerChannel : Granularity::kPerTensor, 1e-5f,
          q_expected.data(), s_expected.data(), sums_expected.data());

      DeviceBuffer<float> d_x(x);
      DeviceBuffer<int8_t> d_q(s.m * cuda_padded_k(s.k));
      DeviceBuffer<float> d_scales(scales);
      DeviceBuffer<int32_t> d_sums(s.m);
      d_q.poison();
      d_scales.poison();
      d_sums.poison();
      BITLAB_CUDA_CHECK(quantize_activations(
          {d_x.get(), s.m, s.k, per_token, 1e-5f, d_q.get(), d_scales.get(), d_sums.get()},
          nullptr));
      BITLAB_CUDA_CHECK(cudaDeviceSynchronize());
      const std::vector<int8_t> q = d_q.download();
      EXPECT_EQ(d_scales.download(), s_expected) << (per_token ? "per token" : "per tensor");
      EXPECT_EQ(d_sums.download(), sums_expected);
      EXPECT_EQ(q, pad_rows(q_expected, s.m, s.k)) << (per_token ? "per token" : "per tensor");
    }
  }
}

template <typename T>
std::vector<T> to_half(const std::vector<float>& x);
template <>
std::vector<__half> to_half(const std::vector<float>& x) {
  std::vector<__half> h(x.size());
  for (size_t i = 0; i < x.size(); ++i) h[i] = __float2half(x[i]);
  return h;
}
template <>
std::vector<__nv_bfloat16> to_half(const std::vector<float>& x) {
  std::vector<__nv_bfloat16> h(x.size());
  for (size_t i = 0; i < x.size(); ++i) h[i] = __float2bfloat16(x[i]);
  return h;
}
float to_float(__half v) { return __half2float(v); }
float to_float(__nv_bfloat16 v) { return __bfloat162float(v); }

template <typename T>
void check_half_gemv(CudaKernelsTest* test, HalfType type, const Shape& s,
                     std::vector<float> x_float, const std::vector<uint8_t>& t2,
                     const std::vector<float>& w_scale, const std::vector<float>& bias) {
  SCOPED_TRACE(describe(s));
  const std::vector<T> x = to_half<T>(x_float);
  std::vector<int8_t> q(s.n * s.k);
  ASSERT_TRUE(unpack_t2(t2.data(), s.n, s.k, q.data()));
  std::vector<uint8_t> packed(cuda_packed_weight_bytes(s.n, s.k));
  pack_cuda_weights(t2.data(), s.n, s.k, packed.data());
  DeviceBuffer<T> d_x(x);
  DeviceBuffer<uint8_t> d_w(packed);
  DeviceBuffer<float> d_w_scale(w_scale), d_bias(bias), d_y(s.m * s.n);
  d_y.poison();
  HalfGemvArgs args;
  args.m = s.m;
  args.n = s.n;
  args.k = s.k;
  args.x = d_x.get();
  args.type = type;
  args.w = d_w.get();
  args.w_scale = d_w_scale.get();
  args.w_scale_per_channel = w_scale.size() > 1;
  args.bias = d_bias.get();
  BITLAB_CUDA_CHECK(half_gemv(args, d_y.get(), nullptr));
  BITLAB_CUDA_CHECK(cudaDeviceSynchronize());
  const std::vector<float> y = d_y.download();
  for (int64_t mm = 0; mm < s.m; ++mm) {
    for (int64_t n = 0; n < s.n; ++n) {
      double sum = 0.0;
      double mass = 0.0;
      for (int64_t kk = 0; kk < s.k; ++kk) {
        const double v = to_float(x[mm * s.k + kk]);
        sum += v * q[n * s.k + kk];
        mass += std::fabs(v);
      }
      const double g = w_scale.size() > 1 ? w_scale[n] : w_scale[0];
      const double expected = sum * g + bias[n];
      const double bound = 1e-5 * (mass * g + std::fabs(bias[n]));
      ASSERT_LE(std::fabs(y[mm * s.n + n] - expected), bound)
          << "output [" << mm << ", " << n << "]: " << y[mm * s.n + n] << " vs " << expected;
    }
  }
}

TEST_F(CudaKernelsTest, HalfGemvMatchesTheReference) {
  SCOPED_TRACE("seed " + std::to_string(seed_));
  for (int64_t m = 1; m <= kMaxGemvRows; ++m) {
    for (Shape s : kGemvShapes) {
      s.m = m;
      const std::vector<float> x = random_float(s.m * s.k, -2.0f, 2.0f);
      const std::vector<uint8_t> t2 = random_t2(s.n, s.k);
      const std::vector<float> w_scale = random_float(m % 2 == 0 ? s.n : 1, 0.1f, 2.0f);
      const std::vector<float> bias = random_float(s.n, -1.0f, 1.0f);
      check_half_gemv<__half>(this, HalfType::kFloat16, s, x, t2, w_scale, bias);
      check_half_gemv<__nv_bfloat16>(this, HalfType::kBFloat16, s, x, t2, w_scale, bias);
      if (HasFatalFailure()) return;
    }
  }
}

TEST_F(CudaKernelsTest, BadArgumentsAreRejectedBeforeLaunch) {
  DeviceBuffer<int8_t> x(cuda_padded_k(8) * 16);
  DeviceBuffer<uint8_t> w(cuda_packed_weight_bytes(8, 8));
  DeviceBuffer<int32_t> sums(16), acc(16 * 8);
  cuda::Int8GemmArgs args;
  args.m = 9;
  args.n = 8;
  args.k = 8;
  args.x = x.get();
  args.x_row_sums = sums.get();
  args.w = w.get();
  EXPECT_EQ(int8_gemm(args, acc.get(), nullptr, nullptr, Int8Path::kGemv), cudaErrorInvalidValue)
      << "the matrix-vector path takes at most " << kMaxGemvRows << " rows";
  EXPECT_EQ(int8_gemm(args, nullptr, nullptr, nullptr), cudaErrorInvalidValue) << "no output";
  args.m = 0;
  EXPECT_EQ(int8_gemm(args, acc.get(), nullptr, nullptr), cudaErrorInvalidValue) << "m = 0";
  args.m = 4;
  args.x_row_sums = nullptr;
  EXPECT_EQ(int8_gemm(args, acc.get(), nullptr, nullptr), cudaErrorInvalidValue) << "no row sums";
  EXPECT_EQ(quantize_activations({}, nullptr), cudaErrorInvalidValue);
  EXPECT_EQ(half_gemv({}, nullptr, nullptr), cudaErrorInvalidValue);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess) << "nothing was launched";
}

}  // namespace
}  // namespace cuda
}  // namespace bitlab
