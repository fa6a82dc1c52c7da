#include "bitcore/kernels/cuda/cuda_weight_layout.h"

#include <cstdint>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "bitcore/kernels/ternary_packing.h"

namespace bitlab {
namespace cuda {
namespace {

// Decodes weight k of a packed row the way the kernels do: word k / 16, shift 2 * j, byte i.
int decode(const uint8_t* row, int64_t k) {
  const int64_t word = k / 16;
  const int j = static_cast<int>(k % 16) / 4;
  const int i = static_cast<int>(k % 4);
  uint32_t w = 0;
  for (int b = 0; b < 4; ++b) w |= uint32_t{row[word * 4 + b]} << (8 * b);
  return static_cast<int>((((w >> (2 * j)) & 0x03030303u) >> (8 * i)) & 0xffu) - 1;
}

TEST(CudaWeightLayoutTest, PaddedSizes) {
  EXPECT_EQ(cuda_padded_k(1), 128);
  EXPECT_EQ(cuda_padded_k(128), 128);
  EXPECT_EQ(cuda_padded_k(129), 256);
  EXPECT_EQ(cuda_weight_row_bytes(300), 96);
  EXPECT_EQ(cuda_packed_weight_bytes(3, 300), 288);
}

TEST(CudaWeightLayoutTest, EveryWeightDecodesBackAndPaddingIsZero) {
  std::mt19937 rng(7);
  for (const int64_t k : {1, 5, 64, 127, 128, 300}) {
    const int64_t n = 5;
    std::vector<int8_t> q(n * k);
    for (int8_t& v : q) v = static_cast<int8_t>(static_cast<int>(rng() % 3) - 1);
    std::vector<uint8_t> t2(t2_packed_bytes(n, k));
    ASSERT_TRUE(pack_t2(q.data(), n, k, t2.data()));
    std::vector<uint8_t> packed(cuda_packed_weight_bytes(n, k), 0xff);
    pack_cuda_weights(t2.data(), n, k, packed.data());
    for (int64_t row = 0; row < n; ++row) {
      const uint8_t* packed_row = packed.data() + row * cuda_weight_row_bytes(k);
      for (int64_t kk = 0; kk < cuda_padded_k(k); ++kk) {
        const int expected = kk < k ? q[row * k + kk] : 0;
        ASSERT_EQ(decode(packed_row, kk), expected) << "k=" << k << " row=" << row << " at " << kk;
      }
    }
  }
}

}  // namespace
}  // namespace cuda
}  // namespace bitlab
