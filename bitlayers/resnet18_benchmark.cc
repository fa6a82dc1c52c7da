// ResNet-18 at 224x224, whole model, in one run: the float32 model (torchvision's layout,
// 1000 classes, eval, no grad) against the same model converted with BitConverter and deployed
// (conv1 and fc kept float32, the 19 other convolutions ternary), at batch 1 and 32, on 1 and 2
// of libtorch's threads (at::set_num_threads; BitLab's kernels use the same pool), with the
// input in both memory formats: NCHW (libtorch's default) and channels last (NHWC), which a
// deployed BitLab model should be fed, since BitConv works channels last.
//
// Counters: images_per_s; on the ternary rows, the weights' compression (memory_report:
// float32 bytes / deployed bytes, capped near 9.4x by the fp32 classifier). Speed-ups are
// ratios of the rows' times (docs/benchmarks.md).
//
//   bazel run //bitlayers:resnet18_benchmark -- --benchmark_min_time=0.5
#include <string>

#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>
#include <torch/types.h>

#include "bitlayers/converter.h"
#include "bitlayers/memory_report.h"
#include "bitlayers/testing/torchvision_resnet.h"

namespace bitlab {
namespace {

constexpr int64_t kImageSize = 224;
constexpr int64_t kNumClasses = 1000;

testing::ResNet18 make_fp32_model() {
  torch::manual_seed(0);
  testing::ResNet18 model(kNumClasses);
  model->eval();
  return model;
}

testing::ResNet18& fp32_model() {
  static testing::ResNet18 model = make_fp32_model();
  return model;
}

testing::ResNet18& ternary_model() {
  static testing::ResNet18 model = [] {
    testing::ResNet18 m = make_fp32_model();
    ConversionRule keep_ends;
    keep_ends.pattern = "^conv1$|^fc$";
    keep_ends.keep_float = true;
    keep_ends.name = "stem and classifier";
    BitConverter::convert(*m, BitQuantConfig::from_string("ai8pc_wpt"), {keep_ends});
    deploy_bit_layers(*m);
    return m;
  }();
  return model;
}

void BM_ResNet18(benchmark::State& state, bool ternary, int64_t batch, int threads,
                 bool channels_last) {
  at::set_num_threads(threads);
  torch::NoGradGuard no_grad;
  testing::ResNet18& model = ternary ? ternary_model() : fp32_model();
  torch::Tensor x = torch::randn({batch, 3, kImageSize, kImageSize});
  if (channels_last) x = x.contiguous(torch::MemoryFormat::ChannelsLast);
  benchmark::DoNotOptimize(model(x));  // warm-up: kernel selection, repacking, allocations

  for (auto _ : state) benchmark::DoNotOptimize(model(x));

  state.counters["images_per_s"] =
      benchmark::Counter(static_cast<double>(batch), benchmark::Counter::kIsIterationInvariantRate);
  if (!ternary) return;
  const MemoryReport memory = memory_report(*model);
  state.counters["weights_x_smaller"] = memory.compression_ratio();
  state.SetLabel(format_bytes(memory.total_float_bytes) + " -> " +
                 format_bytes(memory.total_deployed_bytes));
}

void register_benchmarks() {
  for (int threads : {1, 2}) {
    for (int64_t batch : {1, 32}) {
      for (bool ternary : {false, true}) {
        for (bool channels_last : {false, true}) {
          const std::string name = std::string("resnet18/") + (ternary ? "ternary" : "fp32") +
                                   (channels_last ? "/nhwc" : "/nchw") +
                                   "/batch:" + std::to_string(batch) +
                                   "/threads:" + std::to_string(threads);
          benchmark::RegisterBenchmark(name.c_str(), BM_ResNet18, ternary, batch, threads,
                                       channels_last)
              ->Unit(benchmark::kMillisecond)
              ->UseRealTime();
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
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
