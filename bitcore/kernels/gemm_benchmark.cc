// Ternary matrix products of every kernel built into this binary and runnable on this CPU,
// beside libtorch's fp32 matmul on the same shapes, in one run (these machines are noisy, so
// only ratios within a run mean anything).
//
//   bazel run -c opt //bitcore/kernels:gemm_benchmark -- --benchmark_filter=1x4096x4096
//
// Each kernel benchmark times what a deployed layer runs per call: activation quantization
// (int8 configs) plus the product, on weights packed once beforehand. Counters: GOP/s counts
// 2*M*N*K operations; weight_GB/s counts the kernel's packed weight bytes (the fp32 baseline
// counts its 4-byte weights).
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include <ATen/Parallel.h>
#include <ATen/TensorOperators.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/linear.h>
#include <ATen/ops/matmul.h>
#include <ATen/ops/mv.h>
#include <ATen/ops/rand.h>
#include <ATen/ops/randint.h>
#include <ATen/ops/randn.h>
#include <benchmark/benchmark.h>

#include "bitcore/kernel_registry.h"
#include "bitcore/kernels/bit_kernel.h"
#include "bitcore/packing.h"

namespace bitlab {
namespace {

struct Shape {
  int64_t m, n, k;
};

// Batch-1 shapes of common transformer projections, a small layer, and small batches.
const Shape kShapes[] = {{1, 1024, 1024},  {1, 4096, 4096}, {1, 11008, 4096},
                         {1, 4096, 11008}, {8, 4096, 4096}, {64, 1024, 1024}};

std::string shape_name(const Shape& s) {
  return std::to_string(s.m) + "x" + std::to_string(s.n) + "x" + std::to_string(s.k);
}

void set_counters(benchmark::State& state, const Shape& s, double weight_bytes) {
  const double ops = 2.0 * s.m * s.n * s.k;
  state.counters["GOP/s"] =
      benchmark::Counter(ops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["weight_GB/s"] =
      benchmark::Counter(weight_bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_TorchFp32Matmul(benchmark::State& state, Shape s) {
  const at::Tensor x = at::randn({s.m, s.k});
  const at::Tensor w_t = at::randn({s.k, s.n});
  for (auto _ : state) benchmark::DoNotOptimize(at::matmul(x, w_t));
  set_counters(state, s, 4.0 * s.n * s.k);
}

// What torch::nn::Linear runs: x @ W^T + b with W stored [N, K].
void BM_TorchFp32Linear(benchmark::State& state, Shape s) {
  const at::Tensor x = at::randn({s.m, s.k});
  const at::Tensor w = at::randn({s.n, s.k});
  const at::Tensor b = at::randn({s.n});
  for (auto _ : state) benchmark::DoNotOptimize(at::linear(x, w, b));
  set_counters(state, s, 4.0 * s.n * s.k);
}

// Batch 1 as a matrix-vector product, libtorch's fastest fp32 path for that case.
void BM_TorchFp32Mv(benchmark::State& state, Shape s) {
  const at::Tensor x = at::randn({s.k});
  const at::Tensor w = at::randn({s.n, s.k});
  for (auto _ : state) benchmark::DoNotOptimize(at::mv(w, x));
  set_counters(state, s, 4.0 * s.n * s.k);
}

void BM_Kernel(benchmark::State& state, const BitKernel* kernel, BitQuantConfig config, Shape s) {
  const at::Tensor x = at::randn({s.m, s.k});
  const at::Tensor t2 = pack_t2(at::randint(-1, 2, {s.n, s.k}, at::kChar));
  at::Tensor packed = at::empty({kernel->packed_weight_bytes(s.n, s.k)}, at::kByte);
  kernel->pack_weights(t2.data_ptr<uint8_t>(), s.n, s.k, packed.data_ptr<uint8_t>());
  const bool per_channel = config.weight_granularity == Granularity::kPerChannel;
  const at::Tensor w_scale = at::rand({per_channel ? s.n : 1}) + 0.5f;
  const at::Tensor bias = at::randn({s.n});
  at::Tensor y = at::empty({s.m, s.n});
  const bool per_token = config.activation_granularity == Granularity::kPerChannel;
  at::Tensor q = at::empty({s.m, s.k}, at::kChar);
  at::Tensor x_scale = at::empty({per_token ? s.m : 1});

  if (config.activation_dtype == ActivationDtype::kInt8) {
    Int8GemmArgs args;
    args.m = s.m;
    args.n = s.n;
    args.k = s.k;
    args.x = q.data_ptr<int8_t>();
    args.x_scale = x_scale.data_ptr<float>();
    args.x_scale_per_row = per_token;
    args.w = packed.data_ptr<uint8_t>();
    args.w_scale = w_scale.data_ptr<float>();
    args.w_scale_per_channel = per_channel;
    args.bias = bias.data_ptr<float>();
    for (auto _ : state) {
      kernel->quantize_activations(x.data_ptr<float>(), s.m, s.k, config.activation_granularity,
                                   config.eps, q.data_ptr<int8_t>(), x_scale.data_ptr<float>());
      kernel->int8_gemm(args, 0, s.n, y.data_ptr<float>());
      benchmark::ClobberMemory();
    }
  } else {
    Float32GemmArgs args;
    args.m = s.m;
    args.n = s.n;
    args.k = s.k;
    args.x = x.data_ptr<float>();
    args.w = packed.data_ptr<uint8_t>();
    args.w_scale = w_scale.data_ptr<float>();
    args.w_scale_per_channel = per_channel;
    args.bias = bias.data_ptr<float>();
    for (auto _ : state) {
      kernel->float32_gemm(args, 0, s.n, y.data_ptr<float>());
      benchmark::ClobberMemory();
    }
  }
  set_counters(state, s, static_cast<double>(packed.numel()));
}

template <typename... Args>
void register_one(const std::string& name, Args&&... args) {
  benchmark::RegisterBenchmark(name.c_str(), std::forward<Args>(args)...)
      ->Unit(benchmark::kMicrosecond)
      ->UseRealTime();
}

void register_benchmarks() {
  const BitQuantConfig configs[] = {BitQuantConfig::from_string("ai8pc_wpt"),
                                    BitQuantConfig::from_string("af32_wpt")};
  for (const Shape& s : kShapes) {
    register_one("torch_fp32_matmul/" + shape_name(s), BM_TorchFp32Matmul, s);
    register_one("torch_fp32_linear/" + shape_name(s), BM_TorchFp32Linear, s);
    if (s.m == 1) register_one("torch_fp32_mv/" + shape_name(s), BM_TorchFp32Mv, s);
    for (const BitKernel* kernel : KernelRegistry::built_kernels()) {
      if (!kernel->is_supported()) continue;
      for (const BitQuantConfig& config : configs) {
        if (!kernel->is_compatible_with(config)) continue;
        const std::string name =
            std::string(kernel->name()) + "/" + config.to_string() + "/" + shape_name(s);
        register_one(name, BM_Kernel, kernel, config, s);
      }
    }
  }
}

}  // namespace
}  // namespace bitlab

int main(int argc, char** argv) {
  // BITLAB_NUM_THREADS sets libtorch's pool; OpenBLAS ignores it, so set OPENBLAS_NUM_THREADS
  // in the environment as well for a like-for-like fp32 baseline.
  if (const char* threads = std::getenv("BITLAB_NUM_THREADS")) {
    at::set_num_threads(std::atoi(threads));
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  bitlab::register_benchmarks();
  benchmark::AddCustomContext("bitlab_kernels_built",
                              std::to_string(bitlab::KernelRegistry::built_kernels().size()));
  benchmark::AddCustomContext("torch_threads", std::to_string(at::get_num_threads()));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
