#include "trainer/bit_trainer.h"

#include <chrono>
#include <cmath>
#include <limits>

#include <ATen/Parallel.h>
#include <ATen/ops/argmax.h>
#include <ATen/ops/tensor.h>
#include <torch/csrc/autograd/grad_mode.h>
#include <torch/nn/functional/loss.h>
#include <torch/optim/optimizer.h>

#include "absl/strings/str_cat.h"
#include "bitcore/errors.h"
#include "bitcore/io/atomic_file.h"
#include "trainer/checkpoint/checkpoint_manager.h"
#include "trainer/logging/html_report.h"
#include "trainer/logging/metrics_writer.h"
#include "trainer/logging/tensorboard.h"
#include "trainer/optim/grad_clip.h"
#include "trainer/optim/lr_schedule.h"
#include "trainer/optim/mixed_precision.h"
#include "trainer/optim/optimizer.h"

namespace bitlab {
namespace trainer {
namespace {

at::Tensor cross_entropy(const at::Tensor& logits, const at::Tensor& labels) {
  return torch::nn::functional::cross_entropy(logits.to(at::kFloat), labels);
}

// Top-1 predictions of `logits` [B, classes] that equal `labels` [B].
double count_correct(const at::Tensor& logits, const at::Tensor& labels) {
  return logits.argmax(1).eq(labels).sum().item<double>();
}

// Whether `value` improves on `best` per the early-stopping config.
bool improves(double value, const c10::optional<double>& best, const EarlyStoppingConfig& c) {
  if (!best) return true;
  return c.mode == "max" ? value > *best + c.min_delta : value < *best - c.min_delta;
}

}  // namespace

Metric accuracy_metric() { return {"accuracy", count_correct}; }

// Everything one call of train() keeps: the optimizer, schedule and writers, and where the run
// is. Only rank 0 has writers and checkpoints.
struct BitTrainer::Run {
  std::unique_ptr<torch::optim::Optimizer> optimizer;
  std::unique_ptr<LrSchedule> schedule;
  std::unique_ptr<CheckpointManager> checkpoints;
  std::unique_ptr<MetricsWriter> metrics;
  std::unique_ptr<TensorBoardWriter> tensorboard;
  std::unique_ptr<ProgressReporter> progress;
  TrainingState state;
  // Curves for the HTML report.
  CurveSeries train_loss{"train loss", {}};
  CurveSeries eval_loss{"eval loss", {}};
  CurveSeries train_accuracy{"train accuracy", {}};
  CurveSeries eval_accuracy{"eval accuracy", {}};
  int64_t evaluations_without_improvement = 0;
};

BitTrainer::BitTrainer(std::shared_ptr<BitModel> model, TrainingConfig config,
                       BatchLoader train_data, c10::optional<BatchLoader> eval_data,
                       TrainerOptions options)
    : model_(std::move(model)),
      config_(std::move(config)),
      train_data_(std::move(train_data)),
      eval_data_(std::move(eval_data)),
      options_(std::move(options)) {
  if (model_ == nullptr) throw BitLabError("BitTrainer: the model is null");
  if (train_data_.options().batch_size != config_.batch_size) {
    throw BitLabError(absl::StrCat("BitTrainer: the training loader's batch_size is ",
                                   train_data_.options().batch_size, " but the config says ",
                                   config_.batch_size));
  }
  if (steps_per_epoch() < 1) {
    throw BitLabError(
        absl::StrCat("BitTrainer: an epoch has ", train_data_.batches_per_epoch(),
                     " batches, fewer than grad_accumulation = ", config_.grad_accumulation));
  }
}

BitTrainer::~BitTrainer() = default;

void BitTrainer::add_callback(std::function<void(const StepEvent&)> callback) {
  callbacks_.push_back(std::move(callback));
}

int64_t BitTrainer::steps_per_epoch() const {
  return train_data_.batches_per_epoch() / config_.grad_accumulation;
}

int64_t BitTrainer::total_steps() const {
  const int64_t all = config_.epochs * steps_per_epoch();
  return config_.max_steps > 0 ? std::min(all, config_.max_steps) : all;
}

EvalResult evaluate_model(BitModel& model, const BatchLoader& data,
                          const std::vector<Metric>& metrics, DistributedContext* distributed) {
  EvalResult result;
  const bool was_training = model.is_training();
  model.eval();
  torch::NoGradGuard no_grad;
  // [loss sum, samples, metric sums...]
  std::vector<double> sums(metrics.size() + 2, 0.0);
  EpochReader reader = data.epoch(0);
  while (c10::optional<Batch> batch = reader.next()) {
    const at::Tensor logits = model.forward(batch->images);
    const int64_t n = batch->labels.size(0);
    sums[0] += cross_entropy(logits, batch->labels).item<double>() * n;
    sums[1] += n;
    for (size_t i = 0; i < metrics.size(); ++i) {
      sums[i + 2] += metrics[i].batch_sum(logits, batch->labels);
    }
  }
  at::Tensor totals = at::tensor(sums, at::kDouble);
  if (distributed != nullptr && distributed->world_size() > 1) {
    distributed->all_reduce_mean(totals);  // means of sums: their ratios are those of the sums
  }
  const double samples = totals[1].item<double>();
  result.samples = static_cast<int64_t>(sums[1]);
  result.values["eval_loss"] = totals[0].item<double>() / samples;
  for (size_t i = 0; i < metrics.size(); ++i) {
    result.values["eval_" + metrics[i].name] = totals[i + 2].item<double>() / samples;
  }
  if (was_training) model.train();
  return result;
}

EvalResult BitTrainer::evaluate() {
  if (!eval_data_) return EvalResult();
  return evaluate_model(*model_, *eval_data_, options_.metrics, options_.distributed);
}

TrainResult BitTrainer::train() {
  const bool main_rank = options_.distributed == nullptr || options_.distributed->is_main();
  const bool writes = main_rank && !options_.output_dir.empty();
  if (config_.threads > 0) at::set_num_threads(static_cast<int>(config_.threads));
  torch::manual_seed(static_cast<uint64_t>(config_.seed));

  Run run;
  run.optimizer = make_optimizer(*model_, config_.optimizer);
  run.schedule =
      std::make_unique<LrSchedule>(config_.schedule, config_.optimizer.lr, total_steps());
  TrainResult result;
  if (!options_.output_dir.empty()) {
    if (writes) make_directories(options_.output_dir);
    const int keep = config_.keep_last_checkpoints > 0
                         ? static_cast<int>(config_.keep_last_checkpoints)
                         : std::numeric_limits<int>::max();
    run.checkpoints =
        std::make_unique<CheckpointManager>(options_.output_dir + "/checkpoints", keep);
  }
  run.state.training_config_json = config_.to_json().dump();
  run.state.model_config_json = options_.model_config.dump();
  run.state.scheduler_name = config_.schedule.name;

  if (options_.resume && run.checkpoints != nullptr) {
    if (c10::optional<std::string> latest = run.checkpoints->latest_valid()) {
      run.state = CheckpointManager::load(*latest, *model_, *run.optimizer);
      result.resumed_from = *latest;
      if (main_rank)
        std::fprintf(stderr, "resuming from %s (step %lld)\n", latest->c_str(),
                     static_cast<long long>(run.state.step));
    }
  }
  if (options_.distributed != nullptr && options_.distributed->world_size() > 1) {
    options_.distributed->broadcast_parameters(*model_);
  }
  if (writes) {
    MetricsWriterOptions metric_files;
    metric_files.jsonl_path = options_.output_dir + "/metrics.jsonl";
    metric_files.csv_path = options_.output_dir + "/metrics.csv";
    metric_files.csv_columns = {"train_loss",       "train_accuracy", "lr",
                                "steps_per_second", "eval_loss",      "eval_accuracy"};
    run.metrics = std::make_unique<MetricsWriter>(metric_files);
    make_directories(options_.output_dir + "/tensorboard");
    run.tensorboard = std::make_unique<TensorBoardWriter>(options_.output_dir + "/tensorboard");
  }
  if (main_rank) {
    ProgressOptions progress;
    progress.total_steps = total_steps();
    progress.total_epochs = config_.epochs;
    progress.log_every = config_.log_every_steps;
    progress.mode = options_.progress;
    run.progress = std::make_unique<ProgressReporter>(progress);
  }

  // Writes one record to every sink.
  auto log = [&](const std::vector<std::pair<std::string, double>>& values) {
    if (run.metrics) run.metrics->write({run.state.step, run.state.epoch, values});
    if (run.tensorboard) {
      for (const auto& [name, value] : values)
        run.tensorboard->add_scalar(name, value, run.state.step);
      run.tensorboard->flush();
    }
  };
  auto save_checkpoint = [&](bool is_best) {
    if (run.checkpoints == nullptr) return;
    if (writes) {
      const std::string dir = run.checkpoints->save(*model_, *run.optimizer, run.state, is_best);
      if (is_best) result.best_checkpoint = dir;
    }
    if (options_.distributed != nullptr) options_.distributed->barrier();
  };
  // Evaluates, logs, keeps the best checkpoint; true when early stopping says stop.
  auto evaluate_and_check = [&]() {
    const EvalResult eval = evaluate();
    if (eval.samples == 0) return false;
    std::vector<std::pair<std::string, double>> values(eval.values.begin(), eval.values.end());
    log(values);
    for (const auto& [name, value] : eval.values) run.state.metrics[name] = value;
    run.eval_loss.points.push_back({run.state.step, eval.values.at("eval_loss")});
    if (eval.values.count("eval_accuracy")) {
      run.eval_accuracy.points.push_back({run.state.step, eval.values.at("eval_accuracy")});
    }
    const EarlyStoppingConfig& stop = config_.early_stopping;
    const auto monitored = eval.values.find(stop.monitor);
    if (monitored == eval.values.end()) {
      throw BitLabError(absl::StrCat("early_stopping.monitor '", stop.monitor,
                                     "' is not an evaluation metric (have eval_loss and eval_<",
                                     "metric>)"));
    }
    const bool better = improves(monitored->second, run.state.best_metric, stop);
    if (better) {
      run.state.best_metric = monitored->second;
      run.evaluations_without_improvement = 0;
    } else {
      ++run.evaluations_without_improvement;
    }
    save_checkpoint(better);
    return stop.patience > 0 && run.evaluations_without_improvement >= stop.patience;
  };

  const int64_t last_step = total_steps();
  // Batches an epoch uses: a remainder too small for a whole optimizer step is left out.
  const int64_t epoch_batches = config_.grad_accumulation * steps_per_epoch();
  const c10::DeviceType device = c10::DeviceType::CPU;
  model_->train();
  run.optimizer->zero_grad();
  double interval_loss = 0, interval_correct = 0, interval_samples = 0;
  int64_t interval_steps = 0;
  auto interval_start = std::chrono::steady_clock::now();
  bool stop = false;
  while (!stop && run.state.epoch < config_.epochs && run.state.step < last_step) {
    EpochReader reader = train_data_.epoch(run.state.epoch, run.state.batch_in_epoch);
    double step_loss = 0;
    int64_t micro = 0;
    while (run.state.batch_in_epoch < epoch_batches) {
      c10::optional<Batch> batch = reader.next();
      if (!batch) {
        throw BitLabError(absl::StrCat("BitTrainer: the training data ended epoch ",
                                       run.state.epoch, " after ", run.state.batch_in_epoch,
                                       " batches; expected ", epoch_batches));
      }
      at::Tensor logits;
      {
        AutocastGuard autocast(config_.mixed_precision, device);
        logits = model_->forward(batch->images);
      }
      const at::Tensor loss = cross_entropy(logits, batch->labels);
      const double loss_value = loss.item<double>();
      if (!std::isfinite(loss_value)) {
        result.stopped_on_nan = true;
        result.message = absl::StrCat(
            "stopped: the loss is ", loss_value, " at step ", run.state.step + 1, " (epoch ",
            run.state.epoch, ", batch ", run.state.batch_in_epoch,
            "); lower the learning rate or clip gradients (grad_clip_norm). The last good "
            "checkpoint is kept",
            run.checkpoints ? " under " + run.checkpoints->root() : "");
        stop = true;
        break;
      }
      (loss / static_cast<double>(config_.grad_accumulation)).backward();
      step_loss += loss_value;
      interval_correct += count_correct(logits, batch->labels);
      interval_samples += batch->labels.size(0);
      ++run.state.batch_in_epoch;
      if (++micro < config_.grad_accumulation) continue;

      if (options_.distributed != nullptr) options_.distributed->all_reduce_gradients(*model_);
      if (config_.grad_clip_norm > 0) {
        clip_grad_norm(model_->parameters(), config_.grad_clip_norm);
      }
      run.schedule->apply(*run.optimizer, run.state.step);
      run.optimizer->step();
      run.optimizer->zero_grad();
      ++run.state.step;
      run.state.scheduler_step = run.state.step;
      const StepEvent event{run.state.step, run.state.epoch, step_loss / static_cast<double>(micro),
                            get_lr(*run.optimizer)};
      micro = 0;
      step_loss = 0;
      interval_loss += event.loss;
      ++interval_steps;
      for (const auto& callback : callbacks_) callback(event);

      if (run.state.step % config_.log_every_steps == 0 || run.state.step == last_step) {
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - interval_start)
                .count();
        const double mean_loss = interval_loss / interval_steps;
        const double accuracy = interval_correct / std::max(1.0, interval_samples);
        log({{"train_loss", mean_loss},
             {"train_accuracy", accuracy},
             {"lr", event.lr},
             {"steps_per_second", interval_steps / std::max(seconds, 1e-9)}});
        run.train_loss.points.push_back({run.state.step, mean_loss});
        run.train_accuracy.points.push_back({run.state.step, accuracy});
        result.final_metrics["train_loss"] = mean_loss;
        if (run.progress) {
          run.progress->update(run.state.step, run.state.epoch + 1, mean_loss, accuracy);
        }
        interval_loss = interval_correct = interval_samples = 0;
        interval_steps = 0;
        interval_start = std::chrono::steady_clock::now();
      }
      if (run.state.batch_in_epoch == epoch_batches) {
        // The epoch's end: what follows saves the position as the next epoch's start.
        ++run.state.epoch;
        run.state.batch_in_epoch = 0;
        const bool eval_due =
            config_.eval_every_epochs > 0 && run.state.epoch % config_.eval_every_epochs == 0;
        if (!eval_due) {
          save_checkpoint(false);
        } else if (evaluate_and_check()) {  // saves the checkpoint too
          result.early_stopped = stop = true;
        }
        break;
      }
      if (config_.eval_every_steps > 0 && run.state.step % config_.eval_every_steps == 0 &&
          evaluate_and_check()) {
        result.early_stopped = stop = true;
        break;
      }
      if (run.state.step >= last_step) {
        save_checkpoint(false);
        break;
      }
      if (config_.checkpoint_every_steps > 0 &&
          run.state.step % config_.checkpoint_every_steps == 0) {
        save_checkpoint(false);
      }
    }
  }
  if (run.progress) run.progress->finish();
  if (!result.stopped_on_nan && run.eval_loss.points.empty() && eval_data_) {
    evaluate_and_check();  // every run ends with its evaluation
  }
  for (const auto& [name, value] : run.state.metrics) result.final_metrics[name] = value;
  result.steps = run.state.step;
  result.epoch = run.state.epoch;
  if (writes) {
    RunReport report;
    report.title = absl::StrCat("Training report: ", model_->config.model_type);
    report.charts = {{"loss", {run.train_loss, run.eval_loss}},
                     {"accuracy", {run.train_accuracy, run.eval_accuracy}}};
    for (const auto& [name, value] : result.final_metrics)
      report.final_metrics.emplace_back(name, value);
    report.config = {{"training", config_.to_json()}, {"model", options_.model_config}};
    write_html_report(options_.output_dir + "/report.html", report);
  }
  if (result.stopped_on_nan && main_rank) std::fprintf(stderr, "%s\n", result.message.c_str());
  return result;
}

}  // namespace trainer
}  // namespace bitlab
