#include "bitcore/io/sha256.h"

#include <cstdio>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "bitcore/errors.h"

namespace bitlab {
namespace {

std::string hex_of(const std::string& text) { return sha256_hex(text.data(), text.size()); }

// FIPS 180-4 / NIST CAVP example vectors.
TEST(Sha256Test, MatchesTheStandardVectors) {
  EXPECT_EQ(hex_of(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(hex_of("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(hex_of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(hex_of(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256Test, PiecesHashLikeTheWhole) {
  std::string text;
  for (int i = 0; i < 1000; ++i) text.push_back(static_cast<char>(i * 37));
  for (size_t cut : {0, 1, 55, 56, 63, 64, 65, 500, 999}) {
    Sha256 hash;
    hash.update(text.data(), cut);
    hash.update(text.data() + cut, text.size() - cut);
    EXPECT_EQ(to_hex(hash.finish()), hex_of(text)) << cut;
  }
}

TEST(Sha256Test, HashesFilesAndNamesMissingOnes) {
  const std::string path = ::testing::TempDir() + "/sha256_test.bin";
  FILE* file = std::fopen(path.c_str(), "wb");
  ASSERT_NE(file, nullptr);
  std::fputs("abc", file);
  std::fclose(file);
  EXPECT_EQ(sha256_file_hex(path),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  try {
    sha256_file_hex(path + ".missing");
    FAIL() << "a missing file must throw";
  } catch (const BitLabError& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("sha256_test.bin.missing"));
  }
}

}  // namespace
}  // namespace bitlab
