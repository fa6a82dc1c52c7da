#include "bitcore/io/checksum64.h"

#include <cstdint>
#include <set>
#include <vector>

#include <gtest/gtest.h>

namespace bitlab {
namespace {

TEST(Checksum64Test, SameBytesSameSumAnyAlignment) {
  std::vector<unsigned char> bytes(1000);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<unsigned char>(i * 37 + 11);
  std::vector<unsigned char> shifted(bytes.size() + 3);
  std::copy(bytes.begin(), bytes.end(), shifted.begin() + 3);
  EXPECT_EQ(checksum64(bytes.data(), bytes.size()), checksum64(shifted.data() + 3, bytes.size()));
}

TEST(Checksum64Test, EveryFlippedBitAndEveryLengthChangesTheSum) {
  std::vector<unsigned char> bytes(77);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<unsigned char>(i * 13 + 5);
  const uint64_t original = checksum64(bytes.data(), bytes.size());
  std::set<uint64_t> seen = {original};
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      bytes[i] ^= static_cast<unsigned char>(1 << bit);
      const uint64_t sum = checksum64(bytes.data(), bytes.size());
      EXPECT_NE(sum, original) << "byte " << i << " bit " << bit;
      seen.insert(sum);
      bytes[i] ^= static_cast<unsigned char>(1 << bit);
    }
  }
  EXPECT_EQ(seen.size(), bytes.size() * 8 + 1) << "distinct sums for distinct inputs";
  for (size_t length = 0; length < bytes.size(); ++length) {
    EXPECT_NE(checksum64(bytes.data(), length), original) << "prefix of " << length;
  }
  std::vector<unsigned char> zeros(64, 0);
  EXPECT_NE(checksum64(zeros.data(), 32), checksum64(zeros.data(), 64)) << "zeros of two lengths";
}

}  // namespace
}  // namespace bitlab
