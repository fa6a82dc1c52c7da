// Inference latency of every shipped pretrained model, deployed (packed ternary weights and
// the integer kernels) against its float32 twin (the same architecture unconverted; its speed
// does not depend on the weights' values), at batch 1 and batch 32.
//
//   bazel run -c opt //bitzoo/pretrained:pretrained_latency_benchmark --
//     --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//     --benchmark_out=latency.json --benchmark_out_format=json
//
// Rows: latency/<name>/<deployed|float32>/batch:<n>, one forward of model->example_input(n)
// per iteration, on libtorch's default thread count (recorded as the context's
// "libtorch_threads"; OMP_NUM_THREADS sets it). The publish tool reads these rows into the model
// cards.
#include <map>
#include <memory>
#include <string>

#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <benchmark/benchmark.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "bitmodels/auto_bit_model.h"
#include "bitzoo/pretrained/shipped.h"

namespace bitlab {
namespace bitzoo {
namespace {

// Loaded on first use, so listing the benchmarks loads nothing.
std::shared_ptr<BitModel> load(const std::string& name, bool deployed) {
  static auto* models = new std::map<std::pair<std::string, bool>, std::shared_ptr<BitModel>>();
  std::shared_ptr<BitModel>& model = (*models)[{name, deployed}];
  if (model == nullptr) {
    model = AutoBitModel::from_pretrained(name);
    if (!deployed) {
      AutoBitConfig twin = model->config;
      twin.precision = "float32";
      model = AutoBitModel::from_config(twin);
      model->eval();
    }
  }
  return model;
}

void BM_Forward(benchmark::State& state, const std::string& name, bool deployed) {
  const std::shared_ptr<BitModel> model = load(name, deployed);
  const at::Tensor input = model->example_input(state.range(0));
  torch::NoGradGuard no_grad;
  for (auto _ : state) benchmark::DoNotOptimize(model->forward(input));
  state.counters["samples_per_s"] = benchmark::Counter(
      static_cast<double>(state.range(0)), benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace
}  // namespace bitzoo
}  // namespace bitlab

int main(int argc, char** argv) {
  for (const bitlab::PretrainedSource& source : bitlab::bitzoo::shipped_pretrained()) {
    for (const bool deployed : {true, false}) {
      const std::string name = "latency/" + source.name + (deployed ? "/deployed" : "/float32");
      benchmark::RegisterBenchmark(name.c_str(), bitlab::bitzoo::BM_Forward, source.name, deployed)
          ->ArgName("batch")
          ->Arg(1)
          ->Arg(32)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    }
  }
  // Recorded in the JSON output's context: the publish tool writes it into the cards.
  benchmark::AddCustomContext("libtorch_threads", std::to_string(at::get_num_threads()));
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  return 0;
}
