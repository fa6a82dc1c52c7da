// Training speed of ternary models against the same models in float32, in the same trainer:
// BitTrainer runs kSteps optimizer steps (AdamW, batch 64, Fashion-MNIST-shaped 1x28x28 images
// from the synthetic data set, no data-loading threads) per iteration.
//
//   bazel run -c opt //trainer:train_step_benchmark -- --benchmark_repetitions=3
//     --benchmark_report_aggregates_only=true
//
// Rows: <model>/<float32|ternary>/threads:<n>; the ratio of ternary to float32 time is the
// training overhead of fake quantization with the straight-through estimator.
#include <cstdint>
#include <string>

#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>

#include "bitmodels/auto_bit_model.h"
#include "trainer/bit_trainer.h"
#include "trainer/data/image_dataset.h"
#include "trainer/data/synthetic.h"

namespace bitlab {
namespace trainer {
namespace {

constexpr int64_t kBatch = 64;
constexpr int64_t kSteps = 5;
const char* const kModels[] = {"mlp", "resnet18"};

void BM_TrainSteps(benchmark::State& state) {
  const std::string model_type = kModels[state.range(0)];
  const bool ternary = state.range(1) == 1;
  at::set_num_threads(static_cast<int>(state.range(2)));
  nlohmann::json architecture = {{"num_classes", 10}, {"in_channels", 1}, {"image_size", 28}};
  if (model_type == "resnet18") architecture["stem"] = "small";
  AutoBitConfig config = AutoBitConfig::from_json({{"model_type", model_type},
                                                   {"quant_config", "ai8pc_wpt"},
                                                   {"precision", ternary ? "ternary" : "float32"},
                                                   {"architecture", architecture}});
  std::shared_ptr<BitModel> model = AutoBitModel::from_config(config);
  SyntheticOptions data;
  data.samples = kBatch * kSteps;
  data.height = data.width = 28;
  LoaderOptions loading;
  loading.batch_size = kBatch;
  loading.drop_last = true;
  const BatchLoader loader(ImageDataset(make_synthetic(data)), loading);
  TrainingConfig training;
  training.batch_size = kBatch;
  training.max_steps = kSteps;
  training.log_every_steps = kSteps;
  training.threads = state.range(2);
  TrainerOptions options;
  options.progress = ProgressMode::kLines;
  for (auto _ : state) {
    BitTrainer trainer(model, training, loader, c10::nullopt, options);
    trainer.train();
  }
  state.counters["images_per_s"] = benchmark::Counter(
      static_cast<double>(kBatch * kSteps), benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(model_type + (ternary ? "/ternary" : "/float32"));
}

BENCHMARK(BM_TrainSteps)
    ->ArgNames({"model", "ternary", "threads"})
    ->ArgsProduct({{0, 1}, {0, 1}, {1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace trainer
}  // namespace bitlab

BENCHMARK_MAIN();
