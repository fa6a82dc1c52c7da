// BitLinear against torch::nn::Linear of the same shape, in one run:
//   deployed/<batch>x<out>x<in>: a deployed BitLinear's forward vs Linear's forward (eval);
//   train/<batch>x<out>x<in>: forward + backward in training mode (fake quantization + STE) vs
//   Linear's forward + backward.
//
//   bazel run //bitlayers:bit_linear_benchmark
#include <string>

#include <benchmark/benchmark.h>
#include <torch/nn/modules/linear.h>
#include <torch/types.h>

#include "bitlayers/bit_linear.h"

namespace bitlab {
namespace {

struct Shape {
  int64_t batch, out, in;
};

const Shape kShapes[] = {{1, 4096, 4096}, {32, 4096, 4096}, {32, 1024, 1024}, {256, 1024, 1024}};

std::string shape_name(const Shape& s) {
  return std::to_string(s.batch) + "x" + std::to_string(s.out) + "x" + std::to_string(s.in);
}

void BM_LinearForward(benchmark::State& state, Shape s) {
  torch::NoGradGuard no_grad;
  torch::nn::Linear layer(torch::nn::LinearOptions(s.in, s.out));
  layer->eval();
  const torch::Tensor x = torch::randn({s.batch, s.in});
  for (auto _ : state) benchmark::DoNotOptimize(layer(x));
}

void BM_BitLinearDeployedForward(benchmark::State& state, Shape s) {
  torch::NoGradGuard no_grad;
  BitLinear layer(BitLinearOptions(s.in, s.out));
  layer->deploy();
  const torch::Tensor x = torch::randn({s.batch, s.in});
  for (auto _ : state) benchmark::DoNotOptimize(layer(x));
}

template <typename Layer>
void train_step(benchmark::State& state, Layer& layer, const Shape& s) {
  const torch::Tensor x = torch::randn({s.batch, s.in}).requires_grad_();
  const torch::Tensor upstream = torch::randn({s.batch, s.out});
  for (auto _ : state) {
    layer->zero_grad();
    (layer(x) * upstream).sum().backward();
    benchmark::ClobberMemory();
  }
}

void BM_LinearTrainStep(benchmark::State& state, Shape s) {
  torch::nn::Linear layer(torch::nn::LinearOptions(s.in, s.out));
  train_step(state, layer, s);
}

void BM_BitLinearTrainStep(benchmark::State& state, Shape s) {
  BitLinear layer(BitLinearOptions(s.in, s.out));
  train_step(state, layer, s);
}

void register_benchmarks() {
  for (const Shape& s : kShapes) {
    const std::string shape = shape_name(s);
    for (auto [name, fn] : {std::make_pair("deployed/torch_linear/", BM_LinearForward),
                            std::make_pair("deployed/bit_linear/", BM_BitLinearDeployedForward),
                            std::make_pair("train/torch_linear/", BM_LinearTrainStep),
                            std::make_pair("train/bit_linear/", BM_BitLinearTrainStep)}) {
      benchmark::RegisterBenchmark((name + shape).c_str(), fn, s)
          ->Unit(benchmark::kMicrosecond)
          ->UseRealTime();
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
