#include "bitcore/parallel.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include <ATen/Parallel.h>

#include "absl/strings/str_cat.h"
#include "bitcore/errors.h"

namespace bitlab {
namespace {

// Below this many multiply-adds a product runs on the calling thread (about 20 us of work for
// the slowest kernel, several times the cost of waking the pool).
constexpr int64_t kMinParallelWork = int64_t{1} << 18;

}  // namespace

int num_threads() {
  const int pool = at::get_num_threads();
  const char* value = std::getenv(kNumThreadsEnv);
  if (value == nullptr || value[0] == '\0') return pool;
  char* end = nullptr;
  errno = 0;
  const long requested = std::strtol(value, &end, 10);
  if (errno != 0 || *end != '\0' || requested < 1) {
    throw BitLabError(absl::StrCat(kNumThreadsEnv, "=\"", value,
                                   "\" is not a positive integer number of threads"));
  }
  return static_cast<int>(std::min<long>(requested, pool));
}

void parallel_for_columns(int64_t n, int64_t block, int threads, int64_t work_per_column,
                          const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  const int64_t blocks = (n + block - 1) / block;
  const int64_t chunks = std::min<int64_t>(threads, blocks);
  if (chunks <= 1 || n * work_per_column < kMinParallelWork || at::in_parallel_region()) {
    fn(0, n);
    return;
  }
  const int64_t blocks_per_chunk = (blocks + chunks - 1) / chunks;
  // Each at::parallel_for task gets whole chunks of blocks, so thread boundaries fall on
  // multiples of `block`.
  at::parallel_for(0, chunks, 1, [&](int64_t first_chunk, int64_t last_chunk) {
    for (int64_t c = first_chunk; c < last_chunk; ++c) {
      const int64_t begin = c * blocks_per_chunk * block;
      const int64_t end = std::min(n, (c + 1) * blocks_per_chunk * block);
      if (begin < end) fn(begin, end);
    }
  });
}

}  // namespace bitlab
