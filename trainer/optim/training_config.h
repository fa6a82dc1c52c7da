// TrainingConfig: every setting of a training run (loop, optimizer, learning-rate schedule,
// early stopping), read from JSON with each field validated. A wrong type, a value out of
// range, a choice not on the list or a misspelled (unknown) field throws bitlab::ConfigError
// naming the file, the object and the field. Absent fields take the defaults below;
// nested objects ("optimizer", "schedule", "early_stopping") are JSON objects.
//
// Example (train.json):
//   {"epochs": 10, "batch_size": 128, "mixed_precision": "bf16",
//    "optimizer": {"name": "sgd", "lr": 0.1, "nesterov": true},
//    "schedule": {"name": "warmup_cosine", "warmup_steps": 500}}
//
//   bitlab::trainer::TrainingConfig config =
//       bitlab::trainer::TrainingConfig::from_file("train.json");
//   nlohmann::json json = config.to_json();   // every field; from_json(json) gives it back
#ifndef BITLAB_TRAINER_OPTIM_TRAINING_CONFIG_H_
#define BITLAB_TRAINER_OPTIM_TRAINING_CONFIG_H_

#include <array>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "bitmodels/config_fields.h"  // ConfigError

namespace bitlab {
namespace trainer {

struct OptimizerConfig {
  /// "adamw" or "sgd".
  std::string name = "adamw";
  /// Base learning rate (> 0); the schedule scales it per step.
  double lr = 1e-3;
  /// Decoupled (AdamW) or L2 (SGD) weight decay on weights only (see make_optimizer). The
  /// default when the field is absent depends on the optimizer: 0.01 for adamw, 0 for sgd.
  double weight_decay = 0.01;
  /// SGD only: momentum in [0, 1).
  double momentum = 0.9;
  /// SGD only: Nesterov momentum (needs momentum > 0).
  bool nesterov = false;
  /// AdamW only: the decay rates of the first and second moment, each in [0, 1).
  std::array<double, 2> betas = {0.9, 0.999};
  /// AdamW only: added to the denominator (> 0).
  double eps = 1e-8;

  static OptimizerConfig from_json(const nlohmann::json& json, const std::string& context);
  nlohmann::json to_json() const;
};

/// The learning rate as a function of the optimizer step; see lr_schedule.h for the formulas.
struct ScheduleConfig {
  /// "constant", "step", "cosine", "warmup_cosine" or "one_cycle".
  std::string name = "constant";
  /// warmup_cosine only (> 0 with any other schedule is an error, not silently ignored).
  int64_t warmup_steps = 0;
  /// step: the lr is multiplied by `gamma` every `step_size` steps.
  int64_t step_size = 1000;
  double gamma = 0.1;
  /// cosine, warmup_cosine: the final lr (<= optimizer.lr).
  double min_lr = 0;
  /// one_cycle: the fraction of the steps spent rising to the peak lr (= optimizer.lr) from
  /// lr / div_factor; the rest falls to lr / (div_factor * final_div_factor).
  double pct_start = 0.3;
  double div_factor = 25;
  double final_div_factor = 1e4;

  static ScheduleConfig from_json(const nlohmann::json& json, const std::string& context);
  nlohmann::json to_json() const;
};

struct EarlyStoppingConfig {
  /// The metric watched, e.g. "eval_accuracy" or "eval_loss".
  std::string monitor = "eval_accuracy";
  /// "max" or "min": whether a larger value is better. When the field is absent it is "min"
  /// for a monitor whose name ends in "loss" and "max" otherwise.
  std::string mode = "max";
  /// Evaluations without an improvement of more than min_delta before training stops;
  /// 0 turns early stopping off.
  int64_t patience = 0;
  double min_delta = 0;

  static EarlyStoppingConfig from_json(const nlohmann::json& json, const std::string& context);
  nlohmann::json to_json() const;
};

struct TrainingConfig {
  int64_t epochs = 1;
  /// Stops after this many optimizer steps even within an epoch; 0: no limit.
  int64_t max_steps = 0;
  int64_t batch_size = 64;
  /// Micro-batches whose gradients are summed before each optimizer step.
  int64_t grad_accumulation = 1;
  /// Gradients are clipped to this total 2-norm before each step; 0: no clipping.
  double grad_clip_norm = 0;
  int64_t seed = 0;
  /// Intra-op threads; 0: libtorch's default.
  int64_t threads = 0;
  /// "cpu" or "cuda".
  std::string device = "cpu";
  /// "none", "bf16" or "fp16" (fp16 needs device "cuda"; checked here).
  std::string mixed_precision = "none";
  /// >= 1.
  int64_t log_every_steps = 50;
  /// 0: evaluate only at the end of epochs (per eval_every_epochs).
  int64_t eval_every_steps = 0;
  /// 0: no per-epoch evaluation.
  int64_t eval_every_epochs = 1;
  /// 0: no checkpoints by step count.
  int64_t checkpoint_every_steps = 0;
  /// Older checkpoints are deleted; 0 keeps all of them.
  int64_t keep_last_checkpoints = 3;
  EarlyStoppingConfig early_stopping;
  OptimizerConfig optimizer;
  ScheduleConfig schedule;

  /// `context` names the source in messages, e.g. the file name.
  static TrainingConfig from_json(const nlohmann::json& json,
                                  const std::string& context = "training config");
  /// Throws ConfigError when the file cannot be read or is not valid JSON.
  static TrainingConfig from_file(const std::string& path);
  /// Every field, defaults included.
  nlohmann::json to_json() const;
};

}  // namespace trainer
}  // namespace bitlab

#endif  // BITLAB_TRAINER_OPTIM_TRAINING_CONFIG_H_
