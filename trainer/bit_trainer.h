// BitTrainer: the training loop for BitLab models: optimizer and learning-rate schedule,
// gradient accumulation and clipping, mixed precision, evaluation and early stopping,
// checkpoints that survive crashes and resume exactly, progress and metrics (JSONL, CSV,
// TensorBoard, an HTML report), and data parallelism over a DistributedContext.
//
// Exact resume: everything a step depends on is a function of what a checkpoint stores. The
// data order and augmentation are pure functions of (seed, epoch, position) (data/loader.h),
// the learning rate of the step number (optim/lr_schedule.h), and the model, optimizer and
// global RNG states are saved at step boundaries; so a run resumed from a checkpoint computes
// the same losses at every later step as one that never stopped (given the same thread count).
//
// Example:
//   bitlab::trainer::TrainerOptions options;
//   options.output_dir = "runs/mlp";
//   bitlab::trainer::BitTrainer trainer(model, config, train_loader, test_loader, options);
//   bitlab::trainer::TrainResult result = trainer.train();
//   std::cout << result.final_metrics.at("eval_accuracy");
#ifndef BITLAB_TRAINER_BIT_TRAINER_H_
#define BITLAB_TRAINER_BIT_TRAINER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <c10/util/Optional.h>
#include <nlohmann/json.hpp>

#include "bitmodels/bit_model.h"
#include "trainer/data/loader.h"
#include "trainer/distributed/distributed.h"
#include "trainer/logging/progress.h"
#include "trainer/optim/training_config.h"

namespace bitlab {
namespace trainer {

/// A metric summed over batches and divided by the number of samples: `batch_sum(logits,
/// labels)` returns the sum over the batch's samples (e.g. the number correct).
struct Metric {
  std::string name;
  std::function<double(const at::Tensor& logits, const at::Tensor& labels)> batch_sum;
};

/// Top-1 accuracy ("accuracy").
Metric accuracy_metric();

/// What a callback sees after every optimizer step.
struct StepEvent {
  int64_t step = 0;  // optimizer steps done
  int64_t epoch = 0;
  /// The mean loss of this step's micro-batches.
  double loss = 0;
  double lr = 0;
};

struct TrainerOptions {
  /// Where checkpoints (checkpoints/), metrics.jsonl, metrics.csv, tensorboard/ and
  /// report.html go. Empty: nothing is written (no checkpoints either).
  std::string output_dir;
  /// Continue from the newest valid checkpoint under output_dir/checkpoints, if any.
  bool resume = false;
  ProgressMode progress = ProgressMode::kAuto;
  /// Data parallelism; null or one rank: a single process. Only rank 0 writes files.
  DistributedContext* distributed = nullptr;
  /// Metrics computed on evaluation, beside the loss ("eval_loss").
  std::vector<Metric> metrics = {accuracy_metric()};
  /// Recorded in checkpoints and the report.
  nlohmann::json model_config = nlohmann::json::object();
};

struct EvalResult {
  /// "eval_loss" and "eval_<metric>" for every metric.
  std::map<std::string, double> values;
  int64_t samples = 0;
};

struct TrainResult {
  int64_t steps = 0;
  /// The epoch training stopped in (== config.epochs when it ran to the end).
  int64_t epoch = 0;
  /// The last evaluation, and "train_loss" of the last logged interval.
  std::map<std::string, double> final_metrics;
  bool early_stopped = false;
  /// Training stopped because the loss was not finite; `message` says where.
  bool stopped_on_nan = false;
  std::string message;
  /// The checkpoint with the best monitored metric ("" without checkpoints).
  std::string best_checkpoint;
  /// The checkpoint training resumed from ("" when it started fresh).
  std::string resumed_from;
};

/// Loss ("eval_loss") and `metrics` ("eval_<name>") of `model` on every batch of `data`'s epoch
/// 0, in eval mode and without autograd (the model's mode is restored). With `distributed`, each
/// rank evaluates its shard and the results are over all of them.
EvalResult evaluate_model(BitModel& model, const BatchLoader& data,
                          const std::vector<Metric>& metrics,
                          DistributedContext* distributed = nullptr);

class BitTrainer {
 public:
  /// Throws BitLabError when the loaders disagree with the config (batch size) or an epoch has
  /// fewer batches than config.grad_accumulation.
  BitTrainer(std::shared_ptr<BitModel> model, TrainingConfig config, BatchLoader train_data,
             c10::optional<BatchLoader> eval_data, TrainerOptions options);
  ~BitTrainer();

  /// Called after every optimizer step, on every rank.
  void add_callback(std::function<void(const StepEvent&)> callback);

  /// Trains per the config (resuming first when options.resume) and returns how it ended.
  TrainResult train();

  /// Loss and metrics on eval_data (in eval mode, without autograd; restores the mode).
  EvalResult evaluate();

  /// Optimizer steps in the whole run: epochs x steps per epoch, capped by max_steps.
  int64_t total_steps() const;
  int64_t steps_per_epoch() const;

 private:
  struct Run;

  std::shared_ptr<BitModel> model_;
  TrainingConfig config_;
  BatchLoader train_data_;
  c10::optional<BatchLoader> eval_data_;
  TrainerOptions options_;
  std::vector<std::function<void(const StepEvent&)>> callbacks_;
};

}  // namespace trainer
}  // namespace bitlab

#endif  // BITLAB_TRAINER_BIT_TRAINER_H_
