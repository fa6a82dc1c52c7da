// Ternary matrix products of every kernel built into this binary and runnable on this CPU, in
// one run beside the baselines they must beat and the roofline they are bound by (these
// machines are noisy: only ratios within one run mean anything):
//   - torch_fp32_matmul / torch_fp32_linear / torch_fp32_mv: libtorch fp32 on OpenBLAS;
//   - torch_int8_dynamic: libtorch's quantized::linear_dynamic on the oneDNN engine;
//   - stream_read: a plain read of as many bytes as the ternary kernel's weights (the
//     roofline for a bandwidth-bound product of that size);
//   - <kernel>/<config>: activation quantization plus the product, as a deployed layer runs it,
//     on weights packed once; "cold" variants rotate through more than 256 MB of weight copies
//     so every call reads DRAM (stream_read_cold is their roofline).
// Every benchmark runs at 1 and 2 threads (libtorch's pool, OpenBLAS's own pool and BitLab's
// column split are all set to the same count).
//
//   bazel run //bitcore/kernels:gemm_benchmark -- --benchmark_filter=1x4096x4096
//
// Counters: GOP/s counts 2*M*N*K operations; weight_GB/s counts weight bytes read per call
// (packed ternary for our kernels, 4 bytes a weight for fp32, 1 for int8).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <ATen/TensorOperators.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/native/quantized/PackedParams.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/linear.h>
#include <ATen/ops/matmul.h>
#include <ATen/ops/mv.h>
#include <ATen/ops/quantize_per_tensor.h>
#include <ATen/ops/rand.h>
#include <ATen/ops/randint.h>
#include <ATen/ops/randn.h>
#include <benchmark/benchmark.h>
#include <dlfcn.h>
#include <immintrin.h>

#include "bitcore/kernel_registry.h"
#include "bitcore/kernels/bit_kernel.h"
#include "bitcore/packing.h"
#include "bitcore/parallel.h"

namespace bitlab {
namespace {

struct Shape {
  int64_t m, n, k;
};

const Shape kShapes[] = {{1, 4096, 4096}, {1, 11008, 4096}, {1, 4096, 11008}, {1, 1024, 1024},
                         {8, 4096, 4096}, {64, 4096, 4096}, {256, 4096, 4096}};

// More than any last-level cache here, so rotating through this much weight data reads DRAM.
constexpr int64_t kColdBytes = int64_t{256} << 20;

std::string shape_name(const Shape& s) {
  return std::to_string(s.m) + "x" + std::to_string(s.n) + "x" + std::to_string(s.k);
}

// OpenBLAS ignores libtorch's thread setting; set its pool through its own entry point, found
// at run time because libtorch reaches OpenBLAS through the libblas.so.3 alternative.
void set_threads(int threads) {
  at::set_num_threads(threads);
  using SetThreads = void (*)(int);
  static const auto openblas =
      reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (openblas != nullptr) openblas(threads);
}

void set_counters(benchmark::State& state, const Shape& s, double weight_bytes) {
  state.counters["GOP/s"] = benchmark::Counter(2.0 * s.m * s.n * s.k * 1e-9,
                                               benchmark::Counter::kIsIterationInvariantRate);
  state.counters["weight_GB/s"] =
      benchmark::Counter(weight_bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_TorchFp32Matmul(benchmark::State& state, Shape s) {
  set_threads(static_cast<int>(state.range(0)));
  const at::Tensor x = at::randn({s.m, s.k});
  const at::Tensor w_t = at::randn({s.k, s.n});
  for (auto _ : state) benchmark::DoNotOptimize(at::matmul(x, w_t));
  set_counters(state, s, 4.0 * s.n * s.k);
}

// What torch::nn::Linear runs: x @ W^T + b with W stored [N, K].
void BM_TorchFp32Linear(benchmark::State& state, Shape s) {
  set_threads(static_cast<int>(state.range(0)));
  const at::Tensor x = at::randn({s.m, s.k});
  const at::Tensor w = at::randn({s.n, s.k});
  const at::Tensor b = at::randn({s.n});
  for (auto _ : state) benchmark::DoNotOptimize(at::linear(x, w, b));
  set_counters(state, s, 4.0 * s.n * s.k);
}

// Batch 1 as a matrix-vector product, libtorch's fastest fp32 path for that case.
void BM_TorchFp32Mv(benchmark::State& state, Shape s) {
  set_threads(static_cast<int>(state.range(0)));
  const at::Tensor x = at::randn({s.k});
  const at::Tensor w = at::randn({s.n, s.k});
  for (auto _ : state) benchmark::DoNotOptimize(at::mv(w, x));
  set_counters(state, s, 4.0 * s.n * s.k);
}

// libtorch's own int8 path: dynamic activation quantization + int8 GEMM on oneDNN.
void BM_TorchInt8Dynamic(benchmark::State& state, Shape s) {
  set_threads(static_cast<int>(state.range(0)));
  at::globalContext().setQEngine(at::QEngine::ONEDNN);
  const at::Tensor x = at::randn({s.m, s.k});
  const at::Tensor w = at::quantize_per_tensor(at::randn({s.n, s.k}), 0.02, 0, at::kQInt8);
  const at::Tensor b = at::randn({s.n});
  static const auto prepack = c10::Dispatcher::singleton()
                                  .findSchemaOrThrow("quantized::linear_prepack", "")
                                  .typed<c10::intrusive_ptr<LinearPackedParamsBase>(
                                      at::Tensor, c10::optional<at::Tensor>)>();
  const c10::intrusive_ptr<LinearPackedParamsBase> packed = prepack.call(w, b);
  for (auto _ : state) benchmark::DoNotOptimize(packed->apply_dynamic(x, false));
  set_counters(state, s, 1.0 * s.n * s.k);
}

// Sums 64-byte lines with AVX2 loads (compiled for AVX2 in this function only, and run only
// on CPUs that have it), four independent accumulators so loads are the bottleneck.
__attribute__((target("avx2"))) int64_t read_bytes_avx2(const uint8_t* p, int64_t bytes) {
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  for (int64_t i = 0; i + 128 <= bytes; i += 128) {
    a0 = _mm256_add_epi64(a0, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i)));
    a1 = _mm256_add_epi64(a1, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 32)));
    a2 = _mm256_add_epi64(a2, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 64)));
    a3 = _mm256_add_epi64(a3, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 96)));
  }
  const __m256i sum = _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3));
  return _mm256_extract_epi64(sum, 0) + _mm256_extract_epi64(sum, 3);
}

// An aligned byte buffer, `copies` times `bytes` (rounded to 128), filled with random data.
at::Tensor buffers(int64_t bytes, int64_t copies) {
  return at::randint(0, 256, {copies, (bytes + 127) / 128 * 128}, at::kByte);
}

int64_t cold_copies(int64_t bytes) { return kColdBytes / bytes + 2; }

// The read roofline for `bytes` of weights, split over the threads like a kernel's columns.
void BM_StreamRead(benchmark::State& state, int64_t bytes, bool cold) {
  const int threads = static_cast<int>(state.range(0));
  set_threads(threads);
  const int64_t copies = cold ? cold_copies(bytes) : 1;
  const at::Tensor data = buffers(bytes, copies);
  const int64_t row = data.size(1);
  int64_t copy = 0;
  for (auto _ : state) {
    const uint8_t* base = data.data_ptr<uint8_t>() + copy * row;
    parallel_for_columns(row / 128, 1, threads, int64_t{1} << 20, [&](int64_t b, int64_t e) {
      benchmark::DoNotOptimize(read_bytes_avx2(base + b * 128, (e - b) * 128));
    });
    copy = (copy + 1) % copies;
  }
  state.counters["read_GB/s"] =
      benchmark::Counter(bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_Kernel(benchmark::State& state, const BitKernel* kernel, BitQuantConfig config, Shape s,
               bool cold) {
  const int threads = static_cast<int>(state.range(0));
  set_threads(threads);
  const int64_t packed_bytes = kernel->packed_weight_bytes(s.n, s.k);
  const int64_t copies = cold ? cold_copies(packed_bytes) : 1;
  at::Tensor packed = at::empty({copies, packed_bytes}, at::kByte);
  {
    const at::Tensor t2 = pack_t2(at::randint(-1, 2, {s.n, s.k}, at::kChar));
    kernel->pack_weights(t2.data_ptr<uint8_t>(), s.n, s.k, packed[0].data_ptr<uint8_t>());
    for (int64_t c = 1; c < copies; ++c) packed[c].copy_(packed[0]);
  }
  const at::Tensor x = at::randn({s.m, s.k});
  const bool per_channel = config.weight_granularity == Granularity::kPerChannel;
  const at::Tensor w_scale = at::rand({per_channel ? s.n : 1}) + 0.5f;
  const at::Tensor bias = at::randn({s.n});
  const bool per_token = config.activation_granularity == Granularity::kPerChannel;
  at::Tensor q = at::empty({s.m, s.k}, at::kChar);
  at::Tensor x_scale = at::empty({per_token ? s.m : 1});
  at::Tensor row_sums = at::empty({s.m}, at::kInt);
  at::Tensor y = at::empty({s.m, s.n});
  float* out = y.data_ptr<float>();
  const bool int8 = config.activation_dtype == ActivationDtype::kInt8;

  Int8GemmArgs i8;
  i8.m = s.m;
  i8.n = s.n;
  i8.k = s.k;
  i8.x = q.data_ptr<int8_t>();
  i8.x_scale = x_scale.data_ptr<float>();
  i8.x_scale_per_row = per_token;
  i8.w_scale = w_scale.data_ptr<float>();
  i8.w_scale_per_channel = per_channel;
  i8.bias = bias.data_ptr<float>();
  i8.x_row_sums = row_sums.data_ptr<int32_t>();
  Float32GemmArgs f32;
  f32.m = s.m;
  f32.n = s.n;
  f32.k = s.k;
  f32.x = x.data_ptr<float>();
  f32.w_scale = w_scale.data_ptr<float>();
  f32.w_scale_per_channel = per_channel;
  f32.bias = bias.data_ptr<float>();

  int64_t copy = 0;
  for (auto _ : state) {
    const uint8_t* w = packed[copy].data_ptr<uint8_t>();
    if (int8) {
      kernel->quantize_activations(x.data_ptr<float>(), s.m, s.k, config.activation_granularity,
                                   config.eps, q.data_ptr<int8_t>(), x_scale.data_ptr<float>(),
                                   row_sums.data_ptr<int32_t>());
      i8.w = w;
      parallel_for_columns(s.n, kernel->n_block(), threads, s.m * s.k,
                           [&](int64_t b, int64_t e) { kernel->int8_gemm(i8, b, e, out); });
    } else {
      f32.w = w;
      parallel_for_columns(s.n, kernel->n_block(), threads, s.m * s.k,
                           [&](int64_t b, int64_t e) { kernel->float32_gemm(f32, b, e, out); });
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
    register_one("torch_fp32_matmul/" + shape, BM_TorchFp32Matmul, s);
    register_one("torch_fp32_linear/" + shape, BM_TorchFp32Linear, s);
    if (s.m == 1) register_one("torch_fp32_mv/" + shape, BM_TorchFp32Mv, s);
    register_one("torch_int8_dynamic/" + shape, BM_TorchInt8Dynamic, s);
    const int64_t t2_bytes = s.n * s.k / 4;
    register_one("stream_read/" + shape, BM_StreamRead, t2_bytes, false);
    if (s.m == 1) register_one("stream_read_cold/" + shape, BM_StreamRead, t2_bytes, true);
    for (const BitKernel* kernel : KernelRegistry::built_kernels()) {
      if (!kernel->is_supported()) continue;
      // The scalar oracle takes up to seconds a call; one warm batch-1 shape is its baseline.
      const bool reference = std::string(kernel->name()) == "reference";
      if (reference && (s.m > 1 || s.n * s.k > 4096 * 4096)) continue;
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
