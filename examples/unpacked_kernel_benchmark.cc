// Tutorial (docs/tutorials/writing_a_kernel.md): the example_unpacked kernel timed beside the
// reference kernel on the same int8 activations and weights, one thread, as a deployed layer
// runs the product (weights packed once). Counters: GOP/s counts 2*M*N*K operations.
//
//   bazel run //examples:unpacked_kernel_benchmark -- --benchmark_min_time=1
#include <cstdint>
#include <random>
#include <vector>

#include <benchmark/benchmark.h>

#include "bitcore/kernels/bit_kernel.h"
#include "bitcore/kernels/reference/reference_kernel.h"
#include "bitcore/kernels/ternary_packing.h"
#include "examples/unpacked_kernel.h"

namespace {

void BM_Int8Gemm(benchmark::State& state, const bitlab::BitKernel* kernel) {
  const int64_t m = state.range(0), n = state.range(1), k = state.range(2);
  std::mt19937 rng(0);
  std::uniform_int_distribution<int> activation(-127, 127), ternary(-1, 1);
  std::vector<int8_t> x(m * k), q(n * k);
  for (int8_t& v : x) v = static_cast<int8_t>(activation(rng));
  for (int8_t& v : q) v = static_cast<int8_t>(ternary(rng));
  std::vector<uint8_t> t2(bitlab::t2_packed_bytes(n, k));
  bitlab::pack_t2(q.data(), n, k, t2.data());
  std::vector<uint8_t> packed(kernel->packed_weight_bytes(n, k));
  kernel->pack_weights(t2.data(), n, k, packed.data());
  const std::vector<float> x_scale(m, 0.01f), w_scale(n, 0.5f), bias(n, 0.1f);

  bitlab::Int8GemmArgs args;
  args.m = m;
  args.n = n;
  args.k = k;
  args.x = x.data();
  args.x_scale = x_scale.data();
  args.x_scale_per_row = true;
  args.w = packed.data();
  args.w_scale = w_scale.data();
  args.bias = bias.data();
  std::vector<float> y(m * n);
  for (auto _ : state) {
    kernel->int8_gemm(args, 0, n, y.data());
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  state.counters["GOP/s"] =
      benchmark::Counter(2.0 * m * n * k * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"m", "n", "k"});
  b->Args({1, 1024, 1024});
  b->Args({16, 1024, 1024});
}

BENCHMARK_CAPTURE(BM_Int8Gemm, reference, &bitlab::reference_kernel())->Apply(shapes);
BENCHMARK_CAPTURE(BM_Int8Gemm, example_unpacked, &examples::unpacked_kernel())->Apply(shapes);

}  // namespace

BENCHMARK_MAIN();
