// Tutorial (docs/tutorials/writing_a_kernel.md): the example_unpacked kernel held to the
// reference kernel the way bitcore/kernels/kernel_conformance_test.cc holds every built-in
// kernel: on shapes that include 1, odd sizes and sizes that are not multiples of 4, integer
// accumulators bit for bit, outputs after the float rescale within rtol 1e-5, with every
// granularity of both scales, and activation quantization bit for bit.
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "bitcore/kernels/bit_kernel.h"
#include "bitcore/kernels/reference/reference_kernel.h"
#include "bitcore/kernels/ternary_packing.h"
#include "examples/unpacked_kernel.h"

namespace {

struct Shape {
  int64_t m, n, k;
};
const Shape kShapes[] = {{1, 1, 1},    {1, 5, 3},    {3, 17, 33},    {4, 16, 16},
                         {7, 64, 255}, {33, 31, 64}, {16, 100, 1000}};

std::string describe(const Shape& s) {
  return "m=" + std::to_string(s.m) + " n=" + std::to_string(s.n) + " k=" + std::to_string(s.k);
}

class UnpackedKernelTest : public ::testing::Test {
 protected:
  std::vector<int8_t> random_int8(int64_t count, int lo, int hi) {
    std::uniform_int_distribution<int> dist(lo, hi);
    std::vector<int8_t> v(count);
    for (int8_t& x : v) x = static_cast<int8_t>(dist(rng_));
    return v;
  }
  std::vector<float> random_float(int64_t count, float lo, float hi) {
    std::uniform_real_distribution<float> dist(lo, hi);
    std::vector<float> v(count);
    for (float& x : v) x = dist(rng_);
    return v;
  }
  // Random ternary weights as canonical t2: what the reference kernel runs on.
  std::vector<uint8_t> random_t2(const Shape& s) {
    const std::vector<int8_t> q = random_int8(s.n * s.k, -1, 1);
    std::vector<uint8_t> t2(bitlab::t2_packed_bytes(s.n, s.k));
    bitlab::pack_t2(q.data(), s.n, s.k, t2.data());
    return t2;
  }
  // The same weights in the kernel's own layout.
  std::vector<uint8_t> repack(const std::vector<uint8_t>& t2, const Shape& s) {
    std::vector<uint8_t> packed(kernel_.packed_weight_bytes(s.n, s.k));
    kernel_.pack_weights(t2.data(), s.n, s.k, packed.data());
    return packed;
  }

  const bitlab::BitKernel& kernel_ = examples::unpacked_kernel();
  const bitlab::BitKernel& reference_ = bitlab::reference_kernel();
  std::mt19937 rng_{20261123};
};

TEST_F(UnpackedKernelTest, Int8AccumulatorsAreBitExact) {
  for (const Shape& s : kShapes) {
    const std::vector<int8_t> x = random_int8(s.m * s.k, -127, 127);
    const std::vector<uint8_t> t2 = random_t2(s);
    const std::vector<uint8_t> packed = repack(t2, s);
    bitlab::Int8GemmArgs args;
    args.m = s.m;
    args.n = s.n;
    args.k = s.k;
    args.x = x.data();
    std::vector<int32_t> expected(s.m * s.n), actual(s.m * s.n, INT32_MIN);
    args.w = t2.data();
    reference_.int8_accumulate(args, expected.data());
    args.w = packed.data();
    kernel_.int8_accumulate(args, actual.data());
    for (int64_t i = 0; i < s.m * s.n; ++i) {
      ASSERT_EQ(actual[i], expected[i])
          << describe(s) << " at [" << i / s.n << ", " << i % s.n << "]";
    }
  }
}

TEST_F(UnpackedKernelTest, Int8OutputsMatchTheReference) {
  for (const Shape& s : kShapes) {
    const std::vector<int8_t> x = random_int8(s.m * s.k, -127, 127);
    const std::vector<uint8_t> t2 = random_t2(s);
    const std::vector<uint8_t> packed = repack(t2, s);
    const std::vector<float> x_scale = random_float(s.m, 0.001f, 0.05f);
    const std::vector<float> w_scale = random_float(s.n, 0.2f, 2.0f);
    const std::vector<float> bias = random_float(s.n, -1.0f, 1.0f);
    for (bool per_row : {false, true}) {
      for (bool per_channel : {false, true}) {
        bitlab::Int8GemmArgs args;
        args.m = s.m;
        args.n = s.n;
        args.k = s.k;
        args.x = x.data();
        args.x_scale = x_scale.data();
        args.x_scale_per_row = per_row;
        args.w_scale = w_scale.data();
        args.w_scale_per_channel = per_channel;
        args.bias = per_channel ? bias.data() : nullptr;
        std::vector<float> expected(s.m * s.n), actual(s.m * s.n, std::nanf(""));
        args.w = t2.data();
        reference_.int8_gemm(args, 0, s.n, expected.data());
        args.w = packed.data();
        kernel_.int8_gemm(args, 0, s.n, actual.data());
        for (int64_t i = 0; i < s.m * s.n; ++i) {
          ASSERT_NEAR(actual[i], expected[i], 1e-5f * std::abs(expected[i]))
              << describe(s) << " per_row=" << per_row << " per_channel=" << per_channel << " at ["
              << i / s.n << ", " << i % s.n << "]";
        }
      }
    }
  }
}

TEST_F(UnpackedKernelTest, Float32OutputsMatchTheReference) {
  for (const Shape& s : kShapes) {
    const std::vector<float> x = random_float(s.m * s.k, -1.0f, 1.0f);
    const std::vector<uint8_t> t2 = random_t2(s);
    const std::vector<uint8_t> packed = repack(t2, s);
    const std::vector<float> w_scale = random_float(s.n, 0.2f, 2.0f);
    bitlab::Float32GemmArgs args;
    args.m = s.m;
    args.n = s.n;
    args.k = s.k;
    args.x = x.data();
    args.w_scale = w_scale.data();
    args.w_scale_per_channel = true;
    std::vector<float> expected(s.m * s.n), actual(s.m * s.n, std::nanf(""));
    args.w = t2.data();
    reference_.float32_gemm(args, 0, s.n, expected.data());
    args.w = packed.data();
    kernel_.float32_gemm(args, 0, s.n, actual.data());
    for (int64_t i = 0; i < s.m * s.n; ++i) {
      ASSERT_NEAR(actual[i], expected[i], 1e-5f * std::abs(expected[i]) + 1e-6f)
          << describe(s) << " at [" << i / s.n << ", " << i % s.n << "]";
    }
  }
}

TEST_F(UnpackedKernelTest, ActivationQuantizationIsBitExact) {
  for (const Shape& s : kShapes) {
    const std::vector<float> x = random_float(s.m * s.k, -3.0f, 3.0f);
    for (bitlab::Granularity g :
         {bitlab::Granularity::kPerTensor, bitlab::Granularity::kPerChannel}) {
      std::vector<int8_t> q_ref(s.m * s.k), q(s.m * s.k);
      std::vector<float> scales_ref(s.m), scales(s.m);
      reference_.quantize_activations(x.data(), s.m, s.k, g, 1e-5f, q_ref.data(), scales_ref.data(),
                                      nullptr);
      kernel_.quantize_activations(x.data(), s.m, s.k, g, 1e-5f, q.data(), scales.data(), nullptr);
      ASSERT_EQ(q, q_ref) << describe(s) << " " << bitlab::to_string(g);
      ASSERT_EQ(scales, scales_ref) << describe(s) << " " << bitlab::to_string(g);
    }
  }
}

}  // namespace
