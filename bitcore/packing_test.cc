#include "bitcore/packing.h"

#include <ATen/ops/equal.h>
#include <ATen/ops/full.h>
#include <ATen/ops/randint.h>
#include <ATen/ops/tensor.h>
#include <ATen/ops/zeros.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "bitcore/errors.h"

namespace bitlab {
namespace {

using ::testing::HasSubstr;

TEST(PackingTest, RoundTripsIncludingRaggedK) {
  at::manual_seed(7);
  for (int64_t k : {1, 2, 3, 4, 5, 7, 13, 64, 99}) {
    const at::Tensor q = at::randint(-1, 2, {6, k}, at::kChar);
    const at::Tensor t2 = pack_t2(q);
    const at::Tensor t1 = pack_t1(q);
    EXPECT_EQ(t2.sizes(), (std::vector<int64_t>{6, (k + 3) / 4}));
    EXPECT_EQ(t1.sizes(), (std::vector<int64_t>{6, (k + 4) / 5}));
    EXPECT_EQ(t2.scalar_type(), at::kByte);
    EXPECT_TRUE(at::equal(unpack_t2(t2, k), q)) << "k=" << k;
    EXPECT_TRUE(at::equal(unpack_t1(t1, k), q)) << "k=" << k;
  }
}

TEST(PackingTest, HigherRankWeightsPackAsRows) {
  const at::Tensor q = at::randint(-1, 2, {4, 3, 3, 3}, at::kChar);  // a conv weight
  const at::Tensor t2 = pack_t2(q);
  EXPECT_EQ(t2.sizes(), (std::vector<int64_t>{4, 7}));
  EXPECT_TRUE(at::equal(unpack_t2(t2, 27), q.reshape({4, 27})));
}

TEST(PackingTest, ErrorsNameTheProblem) {
  const at::Tensor not_ternary = at::tensor({0, 1, 0, -2}, at::kChar).reshape({2, 2});
  try {
    pack_t2(not_ternary);
    FAIL();
  } catch (const BitLabError& e) {
    EXPECT_THAT(e.what(), HasSubstr("pack_t2: q[1, 1]"));
    EXPECT_THAT(e.what(), HasSubstr("is -2, expected a ternary value in {-1, 0, 1}"));
  }
  EXPECT_THAT(
      [] {
        try {
          pack_t1(at::zeros({2, 2}, at::kFloat));
        } catch (const ShapeError& e) {
          return std::string(e.what());
        }
        return std::string();
      }(),
      HasSubstr("pack_t1: q has dtype Float, expected Char"));
  try {
    unpack_t2(at::zeros({2, 3}, at::kByte), 8);
    FAIL();
  } catch (const ShapeError& e) {
    EXPECT_THAT(e.what(), HasSubstr("packed has shape [2, 3], expected [N, 2] for k = 8"));
  }
  try {
    unpack_t2(at::full({1, 1}, 0xFF, at::kByte), 4);
    FAIL();
  } catch (const BitLabError& e) {
    EXPECT_THAT(e.what(), HasSubstr("packed[0, 0] = 255 holds the invalid 2-bit code 3"));
  }
  try {
    unpack_t1(at::full({1, 2}, 250, at::kByte), 10);
    FAIL();
  } catch (const BitLabError& e) {
    EXPECT_THAT(e.what(), HasSubstr("packed[0, 0] = 250 holds a value above 242"));
  }
}

}  // namespace
}  // namespace bitlab
