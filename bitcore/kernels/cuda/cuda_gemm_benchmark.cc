// The CUDA kernels beside cuBLAS fp16 (cublasGemmEx), a device-to-device copy (1 GiB: the
// bandwidth roofline) and a bare read of each shape's packed weight bytes (what reading that
// much costs at all, launch and ramp included), all in one run, on the shapes (M, N, K) the
// CUDA issue names. Each measurement is the median of
// kTimedLaunches launches timed with CUDA events after kWarmupLaunches warm-ups; weights and
// activations rotate among enough copies that L2 (read off the device) cannot serve them.
// Data is random, never zeros. After the Google Benchmark report a table gives each kernel's
// speed-up over cuBLAS and its weight bandwidth as a fraction of the copy's.
//
// The matrix-vector shapes are timed a second way too, "back to back": kBackToBack launches
// (rotating copies) between one pair of events, the time divided by kBackToBack. A single
// launch of a ~20 us kernel pays the launch, the ramp-up and the drain once; back to back the
// queue is never empty, which is how a model's layers run. The targets are stated on
// single launches; the second table is context for them.
//
//   bazel build --config=cuda //bitcore/kernels/cuda:cuda_gemm_benchmark
//   bazel-bin/bitcore/kernels/cuda/cuda_gemm_benchmark
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <cublas_v2.h>
#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include "bitcore/kernels/cuda/cuda_kernels.h"
#include "bitcore/kernels/cuda/cuda_test_util.h"
#include "bitcore/kernels/cuda/cuda_weight_layout.h"
#include "bitcore/kernels/cuda/read_roofline.h"

namespace bitlab {
namespace cuda {
namespace {

constexpr int kWarmupLaunches = 5;
constexpr int kTimedLaunches = 51;
constexpr int kBackToBack = 16;

#define BITLAB_CUBLAS_CHECK(call)                                                      \
  do {                                                                                 \
    const cublasStatus_t bitlab_status = (call);                                       \
    if (bitlab_status != CUBLAS_STATUS_SUCCESS) {                                      \
      std::fprintf(stderr, "%s:%d: %s failed: status %d\n", __FILE__, __LINE__, #call, \
                   static_cast<int>(bitlab_status));                                   \
      std::abort();                                                                    \
    }                                                                                  \
  } while (0)

struct Shape {
  int64_t m, n, k;
};
const Shape kShapes[] = {{1, 16384, 16384},
                         {1, 4096, 4096},
                         {16, 16384, 16384},
                         {256, 16384, 16384},
                         {4096, 8192, 8192}};

std::string shape_name(const Shape& s) {
  return std::to_string(s.m) + "x" + std::to_string(s.n) + "x" + std::to_string(s.k);
}

// Medians in seconds, by "kernel/shape", for the closing table.
std::map<std::string, double>& results() {
  static std::map<std::string, double> r;
  return r;
}

uint64_t next_random(uint64_t& state) {
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  return state;
}

// Random bytes whose four 2-bit fields are each a valid code (0, 1 or 2).
std::vector<uint8_t> random_codes(int64_t bytes, uint64_t seed) {
  std::vector<uint8_t> v(bytes);
  for (uint8_t& b : v) {
    uint64_t r = next_random(seed);
    b = static_cast<uint8_t>((r % 3) | ((r / 3 % 3) << 2) | ((r / 9 % 3) << 4) |
                             ((r / 27 % 3) << 6));
  }
  return v;
}

std::vector<int8_t> random_int8(int64_t count, uint64_t seed) {
  std::vector<int8_t> v(count);
  for (int8_t& x : v) x = static_cast<int8_t>(static_cast<int>(next_random(seed) % 255) - 127);
  return v;
}

std::vector<float> random_float(int64_t count, uint64_t seed, float lo, float hi) {
  std::vector<float> v(count);
  for (float& x : v)
    x = lo + (hi - lo) * static_cast<float>(next_random(seed) % 1000003) / 1000003.0f;
  return v;
}

std::vector<__half> random_half(int64_t count, uint64_t seed) {
  std::vector<__half> v(count);
  for (__half& x : v)
    x = __float2half(static_cast<float>(next_random(seed) % 2001) / 1000.0f - 1.0f);
  return v;
}

// How many copies of `bytes` rotate so that a launch never finds its inputs in L2.
int copies_for(int64_t bytes) {
  int l2 = 0;
  BITLAB_CUDA_CHECK(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, 0));
  return static_cast<int>(
      std::max<int64_t>(2, (3 * int64_t{l2}) / std::max<int64_t>(bytes, 1) + 1));
}

// Times `launch(i)` (i picks the rotated copy) and records the median under `key`: of single
// launches, or with `back_to_back` > 1 of that many launches between two events, divided.
void time_launches(benchmark::State& state, const std::string& key, int copies,
                   const std::function<void(int)>& launch, int back_to_back = 1) {
  cudaEvent_t start, stop;
  BITLAB_CUDA_CHECK(cudaEventCreate(&start));
  BITLAB_CUDA_CHECK(cudaEventCreate(&stop));
  for (int i = 0; i < kWarmupLaunches; ++i) launch(i % copies);
  BITLAB_CUDA_CHECK(cudaDeviceSynchronize());
  double median = 0.0;
  for (auto _ : state) {
    std::vector<double> times;
    for (int i = 0; i < kTimedLaunches; ++i) {
      BITLAB_CUDA_CHECK(cudaEventRecord(start));
      for (int j = 0; j < back_to_back; ++j) launch((i * back_to_back + j) % copies);
      BITLAB_CUDA_CHECK(cudaEventRecord(stop));
      BITLAB_CUDA_CHECK(cudaEventSynchronize(stop));
      float ms = 0.0f;
      BITLAB_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
      times.push_back(ms * 1e-3 / back_to_back);
    }
    std::nth_element(times.begin(), times.begin() + times.size() / 2, times.end());
    median = times[times.size() / 2];
    state.SetIterationTime(median);
  }
  BITLAB_CUDA_CHECK(cudaEventDestroy(start));
  BITLAB_CUDA_CHECK(cudaEventDestroy(stop));
  results()[key] = median;
}

void set_counters(benchmark::State& state, const Shape& s, int64_t weight_bytes) {
  state.counters["weight_bytes"] = static_cast<double>(weight_bytes);
  state.counters["TOPS"] = benchmark::Counter(2.0 * s.m * s.n * s.k * 1e-12,
                                              benchmark::Counter::kIsIterationInvariantRate);
  state.counters["weight_TB/s"] =
      benchmark::Counter(weight_bytes * 1e-12, benchmark::Counter::kIsIterationInvariantRate);
}

// The roofline: a device-to-device copy of 1 GiB, counting bytes read plus bytes written.
void BM_DeviceCopy(benchmark::State& state) {
  const int64_t bytes = int64_t{1} << 30;
  DeviceBuffer<uint8_t> from(bytes), to(bytes);
  BITLAB_CUDA_CHECK(cudaMemset(from.get(), 0x5a, bytes));
  time_launches(state, "copy", 1, [&](int) {
    BITLAB_CUDA_CHECK(cudaMemcpyAsync(to.get(), from.get(), bytes, cudaMemcpyDeviceToDevice));
  });
  state.counters["TB/s"] =
      benchmark::Counter(2.0 * bytes * 1e-12, benchmark::Counter::kIsIterationInvariantRate);
}

// "/b2b" for the back-to-back timing (range(1) launches per timing).
std::string timing_suffix(const benchmark::State& state) {
  return state.range(1) > 1 ? "/b2b" : "";
}

// A bare read of the shape's packed ternary weight bytes.
void BM_WeightRead(benchmark::State& state) {
  const Shape s = kShapes[state.range(0)];
  const int64_t bytes = cuda_packed_weight_bytes(s.n, s.k);
  const int copies = copies_for(bytes);
  std::vector<std::unique_ptr<DeviceBuffer<uint8_t>>> w;
  for (int c = 0; c < copies; ++c) {
    w.push_back(std::make_unique<DeviceBuffer<uint8_t>>(random_codes(bytes, 71 + c)));
  }
  DeviceBuffer<unsigned> sink(1);
  time_launches(
      state, "read/" + shape_name(s) + timing_suffix(state), copies,
      [&](int c) { BITLAB_CUDA_CHECK(read_roofline(w[c]->get(), bytes, sink.get(), nullptr)); },
      static_cast<int>(state.range(1)));
  state.counters["TB/s"] =
      benchmark::Counter(bytes * 1e-12, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_CublasFp16(benchmark::State& state) {
  const Shape s = kShapes[state.range(0)];
  const int64_t weight_bytes = s.n * s.k * 2;
  const int copies = copies_for(weight_bytes);
  std::vector<std::unique_ptr<DeviceBuffer<__half>>> w, x;
  for (int c = 0; c < copies; ++c) {
    w.push_back(std::make_unique<DeviceBuffer<__half>>(random_half(s.n * s.k, 11 + c)));
    x.push_back(std::make_unique<DeviceBuffer<__half>>(random_half(s.m * s.k, 23 + c)));
  }
  DeviceBuffer<__half> y(s.m * s.n);
  cublasHandle_t handle;
  BITLAB_CUBLAS_CHECK(cublasCreate(&handle));
  const float alpha = 1.0f, beta = 0.0f;
  // Row-major y (m x n) = x (m x k) w^T is column-major y^T = w^T^T x^T: w transposed.
  time_launches(state, "cublas_fp16/" + shape_name(s), copies, [&](int c) {
    BITLAB_CUBLAS_CHECK(
        cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(s.n), static_cast<int>(s.m),
                     static_cast<int>(s.k), &alpha, w[c]->get(), CUDA_R_16F, static_cast<int>(s.k),
                     x[c]->get(), CUDA_R_16F, static_cast<int>(s.k), &beta, y.get(), CUDA_R_16F,
                     static_cast<int>(s.n), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  });
  BITLAB_CUBLAS_CHECK(cublasDestroy(handle));
  set_counters(state, s, weight_bytes);
}

// BitLab's int8 product (the path int8_gemm picks for m); with `quantize`, the activation
// quantization from float32 is timed with it.
void run_int8(benchmark::State& state, bool quantize) {
  const Shape s = kShapes[state.range(0)];
  const int64_t padded_k = cuda_padded_k(s.k);
  const int64_t weight_bytes = cuda_packed_weight_bytes(s.n, s.k);
  const int copies = copies_for(weight_bytes);
  std::vector<std::unique_ptr<DeviceBuffer<uint8_t>>> w;
  std::vector<std::unique_ptr<DeviceBuffer<int8_t>>> x;
  std::vector<std::unique_ptr<DeviceBuffer<float>>> x_float;
  for (int c = 0; c < copies; ++c) {
    w.push_back(std::make_unique<DeviceBuffer<uint8_t>>(random_codes(weight_bytes, 31 + c)));
    x.push_back(std::make_unique<DeviceBuffer<int8_t>>(random_int8(s.m * padded_k, 41 + c)));
    if (quantize) {
      x_float.push_back(
          std::make_unique<DeviceBuffer<float>>(random_float(s.m * s.k, 43 + c, -4.0f, 4.0f)));
    }
  }
  DeviceBuffer<float> x_scale(random_float(s.m, 5, 0.01f, 0.1f));
  DeviceBuffer<int32_t> sums(std::vector<int32_t>(s.m, 17));
  DeviceBuffer<float> w_scale(random_float(s.n, 7, 0.5f, 1.5f));
  DeviceBuffer<float> bias(random_float(s.n, 9, -1.0f, 1.0f));
  DeviceBuffer<float> y(s.m * s.n);
  Int8GemmArgs args;
  args.m = s.m;
  args.n = s.n;
  args.k = s.k;
  args.x_scale = x_scale.get();
  args.x_scale_per_row = true;
  args.x_row_sums = sums.get();
  args.w_scale = w_scale.get();
  args.w_scale_per_channel = true;
  args.bias = bias.get();
  const std::string key = std::string(quantize ? "bitlab_quantize_int8/" : "bitlab_int8/") +
                          shape_name(s) + timing_suffix(state);
  time_launches(
      state, key, copies,
      [&](int c) {
        if (quantize) {
          BITLAB_CUDA_CHECK(quantize_activations(
              {x_float[c]->get(), s.m, s.k, true, 1e-5f, x[c]->get(), x_scale.get(), sums.get()},
              nullptr));
        }
        args.x = x[c]->get();
        args.w = w[c]->get();
        BITLAB_CUDA_CHECK(int8_gemm(args, nullptr, y.get(), nullptr));
      },
      static_cast<int>(state.range(1)));
  set_counters(state, s, weight_bytes);
}
void BM_BitLabInt8(benchmark::State& state) { run_int8(state, false); }
void BM_BitLabQuantizeInt8(benchmark::State& state) { run_int8(state, true); }

void BM_BitLabBf16Gemv(benchmark::State& state) {
  const Shape s = kShapes[state.range(0)];
  const int64_t weight_bytes = cuda_packed_weight_bytes(s.n, s.k);
  const int copies = copies_for(weight_bytes);
  std::vector<std::unique_ptr<DeviceBuffer<uint8_t>>> w;
  for (int c = 0; c < copies; ++c) {
    w.push_back(std::make_unique<DeviceBuffer<uint8_t>>(random_codes(weight_bytes, 51 + c)));
  }
  // bf16 bits of random values in [-2, 2): any 16-bit pattern with exponent <= 127 will do.
  std::vector<uint16_t> x_bits(s.m * s.k);
  uint64_t seed = 61;
  for (uint16_t& b : x_bits) b = static_cast<uint16_t>((next_random(seed) & 0x80ff) | 0x3f00);
  DeviceBuffer<uint16_t> x(x_bits);
  DeviceBuffer<float> w_scale(random_float(s.n, 7, 0.5f, 1.5f));
  DeviceBuffer<float> y(s.m * s.n);
  HalfGemvArgs args;
  args.m = s.m;
  args.n = s.n;
  args.k = s.k;
  args.x = x.get();
  args.type = HalfType::kBFloat16;
  args.w_scale = w_scale.get();
  args.w_scale_per_channel = true;
  time_launches(state, "bitlab_bf16_gemv/" + shape_name(s), copies, [&](int c) {
    args.w = w[c]->get();
    BITLAB_CUDA_CHECK(half_gemv(args, y.get(), nullptr));
  });
  set_counters(state, s, weight_bytes);
}

// Args {shape index, launches per timing}.
void shape_args(benchmark::internal::Benchmark* b, bool gemv_only, int back_to_back = 1) {
  for (int i = 0; i < static_cast<int>(std::size(kShapes)); ++i) {
    if (!gemv_only || kShapes[i].m <= kMaxGemvRows) b->Args({i, back_to_back});
  }
  b->UseManualTime()->Iterations(1)->Unit(benchmark::kMicrosecond);
}

BENCHMARK(BM_DeviceCopy)->UseManualTime()->Iterations(1)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_WeightRead)->Apply([](auto* b) { shape_args(b, false); });
BENCHMARK(BM_CublasFp16)->Apply([](auto* b) { shape_args(b, false); });
BENCHMARK(BM_BitLabInt8)->Apply([](auto* b) { shape_args(b, false); });
BENCHMARK(BM_BitLabQuantizeInt8)->Apply([](auto* b) { shape_args(b, false); });
BENCHMARK(BM_BitLabBf16Gemv)->Apply([](auto* b) { shape_args(b, true); });
BENCHMARK(BM_WeightRead)->Apply([](auto* b) { shape_args(b, true, kBackToBack); });
BENCHMARK(BM_BitLabInt8)->Apply([](auto* b) { shape_args(b, true, kBackToBack); });

void print_summary() {
  const auto& r = results();
  const auto copy = r.find("copy");
  if (copy == r.end()) return;
  const double copy_bandwidth = 2.0 * (int64_t{1} << 30) / copy->second;
  std::printf("\ndevice-to-device copy: %.2f TB/s (read + write)\n", copy_bandwidth * 1e-12);
  std::printf("%-18s %-22s %12s %10s %10s %12s %12s\n", "shape (M,N,K)", "kernel", "median us",
              "x cuBLAS", "TOPS", "% copy BW", "% bare read");
  for (const Shape& s : kShapes) {
    const std::string name = shape_name(s);
    const auto cublas = r.find("cublas_fp16/" + name);
    const auto read = r.find("read/" + name);
    for (const char* kernel :
         {"cublas_fp16", "bitlab_int8", "bitlab_quantize_int8", "bitlab_bf16_gemv"}) {
      const auto it = r.find(std::string(kernel) + "/" + name);
      if (it == r.end()) continue;
      const double t = it->second;
      const double bytes = std::string(kernel) == "cublas_fp16"
                               ? 2.0 * s.n * s.k
                               : static_cast<double>(cuda_packed_weight_bytes(s.n, s.k));
      // The bare read is of the packed ternary weights; cuBLAS reads 8x those bytes.
      const double read_share =
          read == r.end() || std::string(kernel) == "cublas_fp16" ? 0.0 : 100.0 * read->second / t;
      std::printf("%-18s %-22s %12.1f %10.2f %10.1f %11.1f%% %11.1f%%\n", name.c_str(), kernel,
                  t * 1e6, cublas != r.end() ? cublas->second / t : 0.0,
                  2.0 * s.m * s.n * s.k / t * 1e-12, 100.0 * bytes / t / copy_bandwidth,
                  read_share);
    }
  }
  std::printf("\nback to back (%d launches between two events, per launch):\n", kBackToBack);
  std::printf("%-18s %-22s %12s %12s %12s\n", "shape (M,N,K)", "kernel", "us", "% copy BW",
              "% bare read");
  for (const Shape& s : kShapes) {
    const std::string name = shape_name(s);
    const auto read = r.find("read/" + name + "/b2b");
    const auto gemv = r.find("bitlab_int8/" + name + "/b2b");
    if (read == r.end() || gemv == r.end()) continue;
    const double bytes = static_cast<double>(cuda_packed_weight_bytes(s.n, s.k));
    std::printf("%-18s %-22s %12.1f %11.1f%% %12s\n", name.c_str(), "bare read", read->second * 1e6,
                100.0 * bytes / read->second / copy_bandwidth, "");
    std::printf("%-18s %-22s %12.1f %11.1f%% %11.1f%%\n", name.c_str(), "bitlab_int8",
                gemv->second * 1e6, 100.0 * bytes / gemv->second / copy_bandwidth,
                100.0 * read->second / gemv->second);
  }
}

}  // namespace
}  // namespace cuda
}  // namespace bitlab

int main(int argc, char** argv) {
  const std::string missing = bitlab::cuda::missing_cuda_device();
  if (!missing.empty()) {
    std::fprintf(stderr, "cuda_gemm_benchmark: %s\n", missing.c_str());
    return 1;
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  bitlab::cuda::print_summary();
  return 0;
}
