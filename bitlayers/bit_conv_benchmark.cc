// Deployed BitConv2d against torch::nn::Conv2d (fp32, eval) on the convolutions of ResNet-18
// at 224x224, at batch 1 and 32, in one run. Threads: libtorch's pool (BitLab uses it too),
// set by --threads (default 2).
//
//   bazel run //bitlayers:bit_conv_benchmark -- --threads=2
#include <cstdlib>
#include <cstring>
#include <string>

#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>
#include <torch/nn/modules/conv.h>
#include <torch/types.h>

#include "bitlayers/bit_conv.h"

namespace bitlab {
namespace {

struct ConvShape {
  const char* name;
  int64_t in, out, kernel, stride, size;  // size: input height = width
};

// Every distinct convolution of ResNet-18's residual stages (the stem's 7x7 stays fp32).
const ConvShape kShapes[] = {
    {"layer1_3x3", 64, 64, 3, 1, 56},          {"layer2_3x3_s2", 64, 128, 3, 2, 56},
    {"layer2_3x3", 128, 128, 3, 1, 28},        {"layer2_downsample", 64, 128, 1, 2, 56},
    {"layer3_3x3_s2", 128, 256, 3, 2, 28},     {"layer3_3x3", 256, 256, 3, 1, 14},
    {"layer3_downsample", 128, 256, 1, 2, 28}, {"layer4_3x3_s2", 256, 512, 3, 2, 14},
    {"layer4_3x3", 512, 512, 3, 1, 7},         {"layer4_downsample", 256, 512, 1, 2, 14},
};

// Inputs come in both memory formats: NCHW is libtorch's default, and channels last is what a
// deployed BitLab model runs in (BitConv's im2col reads channels last and returns its output
// that way, so a channels-last model never transposes).
torch::Tensor make_input(const ConvShape& s, int64_t batch, bool channels_last) {
  torch::Tensor x = torch::randn({batch, s.in, s.size, s.size});
  return channels_last ? x.contiguous(torch::MemoryFormat::ChannelsLast) : x;
}

void BM_TorchConv2d(benchmark::State& state, ConvShape s, int64_t batch, bool channels_last) {
  torch::NoGradGuard no_grad;
  torch::nn::Conv2d conv(torch::nn::Conv2dOptions(s.in, s.out, s.kernel)
                             .stride(s.stride)
                             .padding(s.kernel / 2)
                             .bias(false));
  conv->eval();
  const torch::Tensor x = make_input(s, batch, channels_last);
  for (auto _ : state) benchmark::DoNotOptimize(conv(x));
}

void BM_BitConv2dDeployed(benchmark::State& state, ConvShape s, int64_t batch, bool channels_last) {
  torch::NoGradGuard no_grad;
  BitConv2d conv(
      BitConv2dOptions(s.in, s.out, s.kernel).stride(s.stride).padding(s.kernel / 2).bias(false));
  conv->deploy();
  const torch::Tensor x = make_input(s, batch, channels_last);
  for (auto _ : state) benchmark::DoNotOptimize(conv(x));
}

void register_benchmarks() {
  for (int64_t batch : {1, 32}) {
    for (const ConvShape& s : kShapes) {
      for (bool channels_last : {false, true}) {
        const std::string suffix = std::string(s.name) + "/batch" + std::to_string(batch) +
                                   (channels_last ? "/nhwc" : "/nchw");
        benchmark::RegisterBenchmark(("torch_conv2d/" + suffix).c_str(), BM_TorchConv2d, s, batch,
                                     channels_last)
            ->Unit(benchmark::kMicrosecond)
            ->UseRealTime();
        benchmark::RegisterBenchmark(("bit_conv2d/" + suffix).c_str(), BM_BitConv2dDeployed, s,
                                     batch, channels_last)
            ->Unit(benchmark::kMicrosecond)
            ->UseRealTime();
      }
    }
  }
}

}  // namespace
}  // namespace bitlab

int main(int argc, char** argv) {
  int threads = 2;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--threads=", 10) == 0) threads = std::atoi(argv[i] + 10);
  }
  at::set_num_threads(threads);
  benchmark::AddCustomContext("threads", std::to_string(threads));
  benchmark::Initialize(&argc, argv);
  // --threads is ours; anything else unknown is an error.
  int remaining = 1;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--threads=", 10) != 0) argv[remaining++] = argv[i];
  }
  argc = remaining;
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  bitlab::register_benchmarks();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
