// What `bazel run //trainer:train` does, as a function the binary and the tests call: builds a
// zoo model for an image data set, trains it with BitTrainer, evaluates it, and leaves behind
// the checkpoints, logs, HTML report, the trained model and its deployed copy.
//
// Every setting has a default, so `--model=resnet18` alone trains a ternary ResNet-18 (small
// stem for 28x28 images) on Fashion-MNIST for one epoch. Started by torchrun or srun
// (WORLD_SIZE > 1, see distributed/distributed.h), each process trains on its shard of the
// data with gradients averaged over all of them, and rank 0 alone writes files.
//
// Example:
//   bitlab::trainer::TrainCommand command;
//   command.model = "mlp";
//   command.max_steps = 100;
//   bitlab::trainer::TrainSummary summary = bitlab::trainer::run_train_command(command);
//   // summary.output_dir holds metrics.jsonl, report.html, model/, deployed/, ...
#ifndef BITLAB_TRAINER_TRAIN_COMMAND_H_
#define BITLAB_TRAINER_TRAIN_COMMAND_H_

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "trainer/bit_trainer.h"

namespace bitlab {
namespace trainer {

/// The command line. Numbers < 0 and empty strings mean "not given": the TrainingConfig
/// (from `config`, else the defaults) decides.
struct TrainCommand {
  std::string model = "resnet18";
  std::string dataset = "fashion_mnist";
  std::string data_dir;
  int64_t epochs = -1;
  int64_t max_steps = -1;
  int64_t batch_size = -1;
  double lr = -1;
  std::string optimizer;
  /// "" : cosine (unless `config` names one).
  std::string schedule;
  /// A compact string ("ai8pc_wpt"), a JSON object, or the path of a JSON file.
  std::string quant = "ai8pc_wpt";
  /// A regex of module paths kept in float32 (replaces the architecture's default rules).
  std::string fp32_layers;
  /// "ternary" (default) or "float32": the same architecture unconverted (a float twin to
  /// compare the ternary model against).
  std::string precision = "ternary";
  /// A JSON object of architecture fields (e.g. {"patch_size": 7}) set over the ones the data
  /// set implies (num_classes, in_channels, image_size, stem, patch_size).
  std::string architecture;
  /// "" : `runs/<model>-<time>` under the working directory.
  std::string output_dir;
  bool resume = false;
  std::string device;
  int64_t threads = -1;
  int64_t seed = -1;
  /// Evaluate every this many steps (0: at epoch ends only).
  int64_t eval_every = -1;
  int64_t early_stop_patience = -1;
  /// A TrainingConfig JSON file; the flags above override its fields.
  std::string config;
  /// Threads loading batches ahead of the model.
  int64_t workers = 2;
  /// Working directory for relative paths ("" : the process's).
  std::string working_dir;
  ProgressMode progress = ProgressMode::kAuto;
  /// Evaluation and test data: the full test split unless > 0 (then its first samples).
  int64_t eval_samples = 0;
};

struct TrainSummary {
  /// Whether this process is rank 0, the one that writes files and evaluates the deployed model.
  bool main_rank = true;
  std::string output_dir;
  TrainResult result;
  /// Accuracy of the deployed model (packed ternary kernels) on the test split; -1 when the
  /// run stopped early on a non-finite loss.
  double deployed_accuracy = -1;
};

/// The TrainingConfig `command` describes (validated; errors name the field).
TrainingConfig training_config_for(const TrainCommand& command);

/// Runs the whole command. Throws BitLabError (ConfigError for bad settings) with a message
/// naming what was wrong and the valid choices.
TrainSummary run_train_command(const TrainCommand& command);

}  // namespace trainer
}  // namespace bitlab

#endif  // BITLAB_TRAINER_TRAIN_COMMAND_H_
