// The reference kernel against an independent oracle: libtorch integer and float matrix
// products on the unpacked weights, and bitcore's libtorch quantizer. Every other kernel is
// then tested against the reference kernel.
#include "bitcore/kernels/reference/reference_kernel.h"

#include <vector>

#include <ATen/TensorOperators.h>
#include <ATen/ops/allclose.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/randint.h>
#include <ATen/ops/randn.h>
#include <gtest/gtest.h>

#include "bitcore/packing.h"
#include "bitcore/quantization.h"

namespace bitlab {
namespace {

struct Case {
  int64_t m, n, k;
};
const Case kCases[] = {{1, 1, 1},   {1, 7, 3},    {2, 5, 4},    {3, 33, 5},
                       {5, 16, 63}, {16, 9, 257}, {7, 64, 130}, {33, 3, 1000}};

std::string describe(const Case& c) {
  return "m=" + std::to_string(c.m) + " n=" + std::to_string(c.n) + " k=" + std::to_string(c.k);
}

TEST(ReferenceKernelTest, QuantizeActivationsMatchesQuantizeXBitForBit) {
  at::manual_seed(3);
  const BitKernel& kernel = reference_kernel();
  for (const Case& c : kCases) {
    const at::Tensor x = at::randn({c.m, c.k}) * 4.0f;
    for (Granularity g : {Granularity::kPerTensor, Granularity::kPerChannel}) {
      BitQuantConfig config;
      config.activation_granularity = g;
      const QuantizedTensor expected = quantize_x(x, config);
      at::Tensor q = at::empty({c.m, c.k}, at::kChar);
      at::Tensor scales = at::empty({g == Granularity::kPerChannel ? c.m : 1}, at::kFloat);
      at::Tensor sums = at::empty({c.m}, at::kInt);
      kernel.quantize_activations(x.data_ptr<float>(), c.m, c.k, g, config.eps,
                                  q.data_ptr<int8_t>(), scales.data_ptr<float>(),
                                  sums.data_ptr<int32_t>());
      EXPECT_TRUE(at::equal(q, expected.values)) << describe(c);
      EXPECT_TRUE(at::equal(sums, expected.values.to(at::kInt).sum(1).to(at::kInt))) << describe(c);
      EXPECT_TRUE(at::equal(scales, expected.scale.reshape({-1}))) << describe(c);
    }
  }
}

TEST(ReferenceKernelTest, Int8AccumulatorsAreExactAndRescaleFollowsTheContract) {
  at::manual_seed(4);
  const BitKernel& kernel = reference_kernel();
  for (const Case& c : kCases) {
    const at::Tensor q_x = at::randint(-127, 128, {c.m, c.k}, at::kChar);
    const at::Tensor q_w = at::randint(-1, 2, {c.n, c.k}, at::kChar);
    const at::Tensor packed = pack_t2(q_w);  // the reference layout is t2 itself
    const at::Tensor x_scale = at::rand({c.m}) + 0.01f;
    const at::Tensor w_scale = at::rand({c.n}) + 0.01f;
    const at::Tensor bias = at::randn({c.n});
    const at::Tensor expected_acc = q_x.to(at::kLong).mm(q_w.to(at::kLong).t()).to(at::kInt);

    for (bool per_row : {false, true}) {
      for (bool per_channel : {false, true}) {
        Int8GemmArgs args;
        args.m = c.m;
        args.n = c.n;
        args.k = c.k;
        args.x = q_x.data_ptr<int8_t>();
        args.x_scale = x_scale.data_ptr<float>();
        args.x_scale_per_row = per_row;
        args.w = packed.data_ptr<uint8_t>();
        args.w_scale = w_scale.data_ptr<float>();
        args.w_scale_per_channel = per_channel;
        args.bias = bias.data_ptr<float>();
        at::Tensor acc = at::empty({c.m, c.n}, at::kInt);
        kernel.int8_accumulate(args, acc.data_ptr<int32_t>());
        EXPECT_TRUE(at::equal(acc, expected_acc)) << describe(c);

        at::Tensor y = at::empty({c.m, c.n}, at::kFloat);
        kernel.int8_gemm(args, 0, c.n, y.data_ptr<float>());
        const at::Tensor s = per_row ? x_scale.reshape({c.m, 1}) : x_scale[0];
        const at::Tensor g = per_channel ? w_scale.reshape({1, c.n}) : w_scale[0];
        // Same order of operations as the contract: ((acc * s) * g) + b, so equal.
        const at::Tensor expected_y = expected_acc.to(at::kFloat) * s * g + bias;
        EXPECT_TRUE(at::equal(y, expected_y))
            << describe(c) << " per_row=" << per_row << " per_channel=" << per_channel
            << " max diff " << (y - expected_y).abs().max().item<float>();
      }
    }
  }
}

TEST(ReferenceKernelTest, Float32ProductMatchesLinearOnTernaryWeights) {
  at::manual_seed(5);
  const BitKernel& kernel = reference_kernel();
  for (const Case& c : kCases) {
    const at::Tensor x = at::randn({c.m, c.k});
    const at::Tensor q_w = at::randint(-1, 2, {c.n, c.k}, at::kChar);
    const at::Tensor packed = pack_t2(q_w);
    const at::Tensor w_scale = at::rand({c.n}) + 0.01f;
    for (bool per_channel : {false, true}) {
      for (bool with_bias : {false, true}) {
        const at::Tensor bias = at::randn({c.n});
        Float32GemmArgs args;
        args.m = c.m;
        args.n = c.n;
        args.k = c.k;
        args.x = x.data_ptr<float>();
        args.w = packed.data_ptr<uint8_t>();
        args.w_scale = w_scale.data_ptr<float>();
        args.w_scale_per_channel = per_channel;
        args.bias = with_bias ? bias.data_ptr<float>() : nullptr;
        at::Tensor y = at::empty({c.m, c.n}, at::kFloat);
        kernel.float32_gemm(args, 0, c.n, y.data_ptr<float>());
        const at::Tensor g = per_channel ? w_scale.reshape({1, c.n}) : w_scale[0];
        at::Tensor expected = x.mm(q_w.to(at::kFloat).t()) * g;
        if (with_bias) expected = expected + bias;
        EXPECT_TRUE(at::allclose(y, expected, 1e-5, 1e-5))
            << describe(c) << " max diff " << (y - expected).abs().max().item<float>();
      }
    }
  }
}

TEST(ReferenceKernelTest, PackedLayoutIsCanonicalT2) {
  const BitKernel& kernel = reference_kernel();
  EXPECT_STREQ(kernel.name(), "reference");
  EXPECT_TRUE(kernel.is_supported());
  const at::Tensor q_w = at::randint(-1, 2, {5, 11}, at::kChar);
  const at::Tensor t2 = pack_t2(q_w);
  ASSERT_EQ(kernel.packed_weight_bytes(5, 11), t2.numel());
  at::Tensor packed = at::empty({t2.numel()}, at::kByte);
  kernel.pack_weights(t2.data_ptr<uint8_t>(), 5, 11, packed.data_ptr<uint8_t>());
  EXPECT_TRUE(at::equal(packed, t2.reshape({-1})));
}

}  // namespace
}  // namespace bitlab
