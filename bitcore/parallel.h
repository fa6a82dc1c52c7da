// Threading for BitLab's kernels: the output columns of a product are split among the threads
// of libtorch's own pool (at::parallel_for), so BitLab never adds a second pool that would
// fight libtorch's for the same cores, and a product run from inside a libtorch parallel region
// runs inline instead of oversubscribing.
//
// Example:
//   bitlab::parallel_for_columns(n, kernel.n_block(), bitlab::num_threads(), m * k,
//                                [&](int64_t begin, int64_t end) { ... });
#ifndef BITLAB_BITCORE_PARALLEL_H_
#define BITLAB_BITCORE_PARALLEL_H_

#include <cstdint>
#include <functional>

namespace bitlab {

/// The environment variable that sets how many threads BitLab's kernels use.
inline constexpr char kNumThreadsEnv[] = "BITLAB_NUM_THREADS";

/// BITLAB_NUM_THREADS if it is set to a positive integer (capped at libtorch's pool size,
/// at::get_num_threads()), else libtorch's pool size. Throws BitLabError naming the variable
/// if it is set to something else.
int num_threads();

/// Runs fn(begin, end) over [0, n) cut into at most `threads` ranges whose starts are multiples
/// of `block`. `work_per_column` (for a product, m * k) keeps small problems on one thread,
/// where waking the pool would cost more than it saves.
void parallel_for_columns(int64_t n, int64_t block, int threads, int64_t work_per_column,
                          const std::function<void(int64_t, int64_t)>& fn);

}  // namespace bitlab

#endif  // BITLAB_BITCORE_PARALLEL_H_
