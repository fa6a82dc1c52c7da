#include "bitcore/parallel.h"

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <utility>
#include <vector>

#include <ATen/Parallel.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "bitcore/errors.h"

namespace bitlab {
namespace {

using ::testing::HasSubstr;

std::vector<std::pair<int64_t, int64_t>> ranges_of(int64_t n, int64_t block, int threads,
                                                   int64_t work) {
  std::mutex mutex;
  std::vector<std::pair<int64_t, int64_t>> ranges;
  parallel_for_columns(n, block, threads, work, [&](int64_t begin, int64_t end) {
    std::lock_guard<std::mutex> lock(mutex);
    ranges.emplace_back(begin, end);
  });
  std::sort(ranges.begin(), ranges.end());
  return ranges;
}

TEST(ParallelTest, RangesCoverEveryColumnOnceOnBlockBoundaries) {
  at::set_num_threads(2);
  for (int64_t n : {1, 15, 16, 17, 100, 4096, 4097}) {
    for (int64_t block : {1, 16, 32}) {
      for (int threads : {1, 2, 3}) {
        const auto ranges = ranges_of(n, block, threads, /*work=*/1 << 20);
        ASSERT_FALSE(ranges.empty());
        EXPECT_LE(static_cast<int64_t>(ranges.size()), threads);
        int64_t next = 0;
        for (const auto& [begin, end] : ranges) {
          EXPECT_EQ(begin, next) << "n=" << n << " block=" << block;
          EXPECT_EQ(begin % block, 0);
          EXPECT_LT(begin, end);
          next = end;
        }
        EXPECT_EQ(next, n);
      }
    }
  }
}

TEST(ParallelTest, SmallWorkStaysOnOneThread) {
  EXPECT_EQ(ranges_of(64, 1, 2, /*work=*/10).size(), 1u);
  EXPECT_EQ(ranges_of(4096, 16, 2, /*work=*/4096).size(), 2u);
}

TEST(ParallelTest, NumThreadsFollowsTheEnvironment) {
  at::set_num_threads(2);
  unsetenv(kNumThreadsEnv);
  EXPECT_EQ(num_threads(), 2);
  setenv(kNumThreadsEnv, "1", 1);
  EXPECT_EQ(num_threads(), 1);
  setenv(kNumThreadsEnv, "64", 1);
  EXPECT_EQ(num_threads(), 2);  // capped at libtorch's pool
  for (const char* bad : {"0", "-2", "two", "3x"}) {
    setenv(kNumThreadsEnv, bad, 1);
    try {
      num_threads();
      FAIL() << bad;
    } catch (const BitLabError& e) {
      EXPECT_THAT(e.what(), HasSubstr("BITLAB_NUM_THREADS=\"" + std::string(bad) + "\""));
    }
  }
  unsetenv(kNumThreadsEnv);
}

}  // namespace
}  // namespace bitlab
