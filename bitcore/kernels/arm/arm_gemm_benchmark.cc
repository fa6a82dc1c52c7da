// Ternary matrix products of every kernel built into the aarch64 binary and runnable on this
// CPU (the ARM kernels and the reference), for real ARM hardware: qemu runs the code but says
// nothing about its speed. The x86 benchmark (//bitcore/kernels:gemm_benchmark) times libtorch
// baselines that the aarch64 build does not have; this one keeps its shapes, configs and
// counters, with these baselines instead:
//   - stream_read: a plain read of as many bytes as the ternary weights (the roofline for a
//     bandwidth-bound product of that size); stream_read_cold reads DRAM;
//   - reference/<config>: the scalar reference kernel at 1x1024x1024.
// Kernels run as a deployed layer runs them: activation quantization plus the product, on
// weights packed once; "cold" variants rotate through more than 256 MB of weight copies.
// 2 threads split the columns like bitlinear, on threads started for each call (about 10-30 us,
// which counts at batch 1).
//
//   bazel build --config=neon //bitcore/kernels/arm:arm_gemm_benchmark
//   # on the ARM machine, with bazel-bin/bitcore/kernels/arm/arm_gemm_benchmark copied over:
//   ./arm_gemm_benchmark --benchmark_filter=1x4096x4096
//
// Counters: GOP/s counts 2*M*N*K operations; weight_GB/s counts packed weight bytes per call.
#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <benchmark/benchmark.h>

#include "bitcore/kernel_registry.h"
#include "bitcore/kernels/bit_kernel.h"
#include "bitcore/kernels/ternary_packing.h"

namespace bitlab {
namespace {

struct Shape {
  int64_t m, n, k;
};

const Shape kShapes[] = {{1, 4096, 4096}, {1, 11008, 4096}, {1, 4096, 11008}, {1, 1024, 1024},
                         {8, 4096, 4096}, {64, 4096, 4096}, {256, 4096, 4096}};

constexpr int64_t kColdBytes = int64_t{256} << 20;

std::string shape_name(const Shape& s) {
  return std::to_string(s.m) + "x" + std::to_string(s.n) + "x" + std::to_string(s.k);
}

int64_t cold_copies(int64_t bytes) { return kColdBytes / bytes + 2; }

// fn(begin, end) over [0, n) in `threads` ranges starting at multiples of `block`.
template <typename Fn>
void for_columns(int64_t n, int64_t block, int threads, const Fn& fn) {
  if (threads <= 1) {
    fn(0, n);
    return;
  }
  const int64_t per = ((n + block - 1) / block + threads - 1) / threads * block;
  std::vector<std::thread> workers;
  for (int64_t begin = per; begin < n; begin += per) {
    workers.emplace_back([&fn, begin, end = std::min(n, begin + per)] { fn(begin, end); });
  }
  fn(0, std::min(n, per));
  for (std::thread& worker : workers) worker.join();
}

void set_counters(benchmark::State& state, const Shape& s, double weight_bytes) {
  state.counters["GOP/s"] = benchmark::Counter(2.0 * s.m * s.n * s.k * 1e-9,
                                               benchmark::Counter::kIsIterationInvariantRate);
  state.counters["weight_GB/s"] =
      benchmark::Counter(weight_bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

uint64_t read_bytes(const uint8_t* p, int64_t bytes) {
  const uint64_t* words = reinterpret_cast<const uint64_t*>(p);
  uint64_t sum = 0;
  for (int64_t i = 0; i < bytes / 8; ++i) sum += words[i];
  return sum;
}

void BM_StreamRead(benchmark::State& state, int64_t bytes, bool cold) {
  const int threads = static_cast<int>(state.range(0));
  const int64_t row = (bytes + 127) / 128 * 128;
  const int64_t copies = cold ? cold_copies(row) : 1;
  std::vector<uint64_t> data(static_cast<size_t>(copies * row / 8), 0x0123456789abcdefULL);
  const uint8_t* bytes_base = reinterpret_cast<const uint8_t*>(data.data());
  int64_t copy = 0;
  for (auto _ : state) {
    const uint8_t* base = bytes_base + copy * row;
    for_columns(row / 128, 1, threads, [&](int64_t b, int64_t e) {
      benchmark::DoNotOptimize(read_bytes(base + b * 128, (e - b) * 128));
    });
    copy = (copy + 1) % copies;
  }
  state.counters["read_GB/s"] =
      benchmark::Counter(bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_Kernel(benchmark::State& state, const BitKernel* kernel, BitQuantConfig config, Shape s,
               bool cold) {
  const int threads = static_cast<int>(state.range(0));
  std::mt19937 rng(42);
  const int64_t packed_bytes = kernel->packed_weight_bytes(s.n, s.k);
  const int64_t copies = cold ? cold_copies(packed_bytes) : 1;
  std::vector<uint8_t> packed(static_cast<size_t>(copies * packed_bytes));
  {
    std::vector<int8_t> q(static_cast<size_t>(s.n * s.k));
    for (int8_t& v : q) v = static_cast<int8_t>(static_cast<int>(rng() % 3) - 1);
    std::vector<uint8_t> t2(static_cast<size_t>(t2_packed_bytes(s.n, s.k)));
    pack_t2(q.data(), s.n, s.k, t2.data());
    kernel->pack_weights(t2.data(), s.n, s.k, packed.data());
    for (int64_t c = 1; c < copies; ++c) {
      std::copy(packed.begin(), packed.begin() + packed_bytes, packed.begin() + c * packed_bytes);
    }
  }
  std::normal_distribution<float> normal;
  std::vector<float> x(static_cast<size_t>(s.m * s.k));
  for (float& v : x) v = normal(rng);
  const bool per_channel = config.weight_granularity == Granularity::kPerChannel;
  std::vector<float> w_scale(static_cast<size_t>(per_channel ? s.n : 1), 0.7f);
  std::vector<float> bias(static_cast<size_t>(s.n), 0.1f);
  const bool per_token = config.activation_granularity == Granularity::kPerChannel;
  std::vector<int8_t> q(static_cast<size_t>(s.m * s.k));
  std::vector<float> x_scale(static_cast<size_t>(per_token ? s.m : 1));
  std::vector<int32_t> row_sums(static_cast<size_t>(s.m));
  std::vector<float> y(static_cast<size_t>(s.m * s.n));
  const bool int8 = config.activation_dtype == ActivationDtype::kInt8;

  Int8GemmArgs i8;
  i8.m = s.m;
  i8.n = s.n;
  i8.k = s.k;
  i8.x = q.data();
  i8.x_scale = x_scale.data();
  i8.x_scale_per_row = per_token;
  i8.w_scale = w_scale.data();
  i8.w_scale_per_channel = per_channel;
  i8.bias = bias.data();
  i8.x_row_sums = row_sums.data();
  Float32GemmArgs f32;
  f32.m = s.m;
  f32.n = s.n;
  f32.k = s.k;
  f32.x = x.data();
  f32.w_scale = w_scale.data();
  f32.w_scale_per_channel = per_channel;
  f32.bias = bias.data();

  int64_t copy = 0;
  for (auto _ : state) {
    const uint8_t* w = packed.data() + copy * packed_bytes;
    if (int8) {
      kernel->quantize_activations(x.data(), s.m, s.k, config.activation_granularity, config.eps,
                                   q.data(), x_scale.data(), row_sums.data());
      i8.w = w;
      for_columns(s.n, kernel->n_block(), threads,
                  [&](int64_t b, int64_t e) { kernel->int8_gemm(i8, b, e, y.data()); });
    } else {
      f32.w = w;
      for_columns(s.n, kernel->n_block(), threads,
                  [&](int64_t b, int64_t e) { kernel->float32_gemm(f32, b, e, y.data()); });
    }
    benchmark::ClobberMemory();
    copy = (copy + 1) % copies;
  }
  set_counters(state, s, static_cast<double>(packed_bytes));
}

template <typename... Args>
void register_one(const std::string& name, Args&&... args) {
  benchmark::RegisterBenchmark(name.c_str(), std::forward<Args>(args)...)
      ->ArgName("threads")
      ->Arg(1)
      ->Arg(2)
      ->Unit(benchmark::kMicrosecond)
      ->UseRealTime();
}

void register_benchmarks() {
  const BitQuantConfig configs[] = {BitQuantConfig::from_string("ai8pc_wpt"),
                                    BitQuantConfig::from_string("af32_wpt")};
  for (const Shape& s : kShapes) {
    const std::string shape = shape_name(s);
    const int64_t t2_bytes = s.n * s.k / 4;
    register_one("stream_read/" + shape, BM_StreamRead, t2_bytes, false);
    if (s.m == 1) register_one("stream_read_cold/" + shape, BM_StreamRead, t2_bytes, true);
    for (const BitKernel* kernel : KernelRegistry::built_kernels()) {
      if (!kernel->is_supported()) continue;
      const bool reference = std::string(kernel->name()) == "reference";
      if (reference && (s.m > 1 || s.n * s.k > 1024 * 1024)) continue;
      for (const BitQuantConfig& config : configs) {
        if (!kernel->is_compatible_with(config)) continue;
        const std::string name = std::string(kernel->name()) + "/" + config.to_string() + "/";
        register_one(name + shape, BM_Kernel, kernel, config, s, false);
        if (s.m == 1 && !reference) {
          register_one(name + "cold/" + shape, BM_Kernel, kernel, config, s, true);
        }
      }
    }
  }
}

}  // namespace
}  // namespace bitlab

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  bitlab::register_benchmarks();
  benchmark::AddCustomContext("bitlab_kernels_built",
                              std::to_string(bitlab::KernelRegistry::built_kernels().size()));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
