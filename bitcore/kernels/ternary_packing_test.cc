#include "bitcore/kernels/ternary_packing.h"

#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace bitlab {
namespace {

std::vector<int8_t> random_ternary(int64_t count, std::mt19937& rng) {
  std::uniform_int_distribution<int> dist(-1, 1);
  std::vector<int8_t> q(count);
  for (auto& v : q) v = static_cast<int8_t>(dist(rng));
  return q;
}

TEST(TernaryPackingTest, RowBytes) {
  EXPECT_EQ(t2_row_bytes(1), 1);
  EXPECT_EQ(t2_row_bytes(4), 1);
  EXPECT_EQ(t2_row_bytes(5), 2);
  EXPECT_EQ(t1_row_bytes(1), 1);
  EXPECT_EQ(t1_row_bytes(5), 1);
  EXPECT_EQ(t1_row_bytes(6), 2);
  EXPECT_EQ(t2_packed_bytes(3, 9), 9);
  EXPECT_EQ(t1_packed_bytes(3, 11), 9);
}

TEST(TernaryPackingTest, T2LayoutIsLowestBitsFirstWithZeroPadding) {
  // Codes q + 1: {-1, 0, 1, 1} -> {0, 1, 2, 2} -> 0b10'10'01'00; then {-1} + 3 padding zeros.
  const int8_t q[5] = {-1, 0, 1, 1, -1};
  uint8_t packed[2];
  ASSERT_TRUE(pack_t2(q, 1, 5, packed));
  EXPECT_EQ(packed[0], 0b10100100);
  EXPECT_EQ(packed[1], 0b01010100);
  for (int k = 0; k < 5; ++k) EXPECT_EQ(t2_weight(packed, k), q[k]) << k;
  EXPECT_EQ(t2_weight(packed, 5), 0);  // padding reads as zero
}

TEST(TernaryPackingTest, T1LayoutIsBase3LowestTritFirst) {
  // Codes {0, 1, 2, 2, 0} -> 0 + 1*3 + 2*9 + 2*27 + 0*81 = 75; then {2} + 4 padding ones.
  const int8_t q[6] = {-1, 0, 1, 1, -1, 1};
  uint8_t packed[2];
  ASSERT_TRUE(pack_t1(q, 1, 6, packed));
  EXPECT_EQ(packed[0], 75);
  EXPECT_EQ(packed[1], 2 + 1 * 3 + 1 * 9 + 1 * 27 + 1 * 81);
}

TEST(TernaryPackingTest, RoundTripsForAwkwardShapes) {
  std::mt19937 rng(1234);
  for (int64_t n : {1, 3, 8}) {
    for (int64_t k : {1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 63, 64, 65, 255, 257}) {
      const auto q = random_ternary(n * k, rng);
      std::vector<uint8_t> t2(t2_packed_bytes(n, k));
      std::vector<uint8_t> t1(t1_packed_bytes(n, k));
      ASSERT_TRUE(pack_t2(q.data(), n, k, t2.data()));
      ASSERT_TRUE(pack_t1(q.data(), n, k, t1.data()));
      std::vector<int8_t> back2(n * k, 9), back1(n * k, 9);
      ASSERT_TRUE(unpack_t2(t2.data(), n, k, back2.data()));
      ASSERT_TRUE(unpack_t1(t1.data(), n, k, back1.data()));
      for (int64_t i = 0; i < n * k; ++i) {
        ASSERT_EQ(back2[i], q[i]) << "t2 n=" << n << " k=" << k << " index " << i;
        ASSERT_EQ(back1[i], q[i]) << "t1 n=" << n << " k=" << k << " index " << i;
      }
    }
  }
}

TEST(TernaryPackingTest, RejectsNonTernaryValuesAndInvalidCodes) {
  const int8_t q[6] = {0, 1, -1, 0, 2, 0};
  uint8_t packed[4];
  int64_t bad = -1;
  EXPECT_FALSE(pack_t2(q, 2, 3, packed, &bad));
  EXPECT_EQ(bad, 4);
  bad = -1;
  EXPECT_FALSE(pack_t1(q, 2, 3, packed, &bad));
  EXPECT_EQ(bad, 4);

  int8_t out[8];
  const uint8_t bad_t2[2] = {0x55, 0x57};  // second byte holds code 3 in its low bits
  bad = -1;
  EXPECT_FALSE(unpack_t2(bad_t2, 2, 4, out, &bad));
  EXPECT_EQ(bad, 1);
  const uint8_t bad_t1[2] = {121, 243};
  bad = -1;
  EXPECT_FALSE(unpack_t1(bad_t1, 2, 5, out, &bad));
  EXPECT_EQ(bad, 1);
}

}  // namespace
}  // namespace bitlab
