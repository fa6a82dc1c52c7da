// What `bazel run //trainer/lm:train_lm` does, as a function the binary and the tests call:
// trains a causal language model of the zoo (model type "gpt") on plain text, one token per
// byte, and leaves behind its checkpoints, metrics, the trained model and its deployed copy
// (packed ternary weights), each with its held-out perplexity.
//
// A run is `max_steps` optimizer steps (required, > 0). Each step takes `batch_size` random
// windows of context_length + 1 bytes of the training text (TextCorpus::window_batch, a pure
// function of (seed, step)), and minimizes the cross entropy of every next byte with the
// TrainingConfig's optimizer, learning-rate schedule over max_steps and gradient clipping.
// The config's epochs, eval_every_epochs and early_stopping have no meaning here; a config
// that asks for early stopping or grad_accumulation > 1 is an error, not silently ignored.
// Held-out perplexity (perplexity.h) is measured every eval_every_steps (0: only at the end).
// Checkpoints are written every checkpoint_every_steps and at the end; `resume` continues
// from the newest one exactly where the run stopped (same batches, same learning rates).
//
// The run directory:
//   corpus.json    every training and held-out file with its size and SHA-256
//   metrics.jsonl, metrics.csv   train_loss, lr, steps_per_second, heldout_perplexity
//   checkpoints/   CheckpointManager's step-<N>/ directories
//   model/         the trained model (AutoBitModel::save_pretrained)
//   deployed/      the same loaded back with deploy_bit_layers applied; its manifest's
//                  metrics hold the deployed model's own heldout_perplexity
//
// Example:
//   bitlab::trainer::LmTrainCommand command;
//   command.architecture = R"({"hidden_size": 192, "num_layers": 4, "num_heads": 4,
//                              "context_length": 128})";
//   command.train_files = {"/usr/share/common-licenses/GPL-2"};
//   command.heldout_files = {"/usr/share/common-licenses/MPL-2.0"};
//   command.max_steps = 2000;
//   bitlab::trainer::LmTrainSummary summary = bitlab::trainer::run_lm_train_command(command);
//   // summary.deployed_heldout_perplexity, summary.output_dir + "/deployed"
#ifndef BITLAB_TRAINER_LM_LM_TRAIN_COMMAND_H_
#define BITLAB_TRAINER_LM_LM_TRAIN_COMMAND_H_

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "trainer/optim/training_config.h"

namespace bitlab {
namespace trainer {

/// The command line. Numbers < 0 and empty strings mean "not given": the TrainingConfig
/// (from `config`, else the defaults) decides.
struct LmTrainCommand {
  /// A causal language model of the zoo (one implementing CausalLM).
  std::string model = "gpt";
  /// A JSON object of architecture fields; "": the model's defaults. The context length is
  /// the architecture's (Gpt: "context_length").
  std::string architecture;
  /// Text files, or directories standing for their regular files sorted by name.
  std::vector<std::string> train_files;
  /// Text the model never trains on, for perplexity; none may equal a training file.
  std::vector<std::string> heldout_files;
  /// "ternary", or "float32": the same architecture left unconverted.
  std::string precision = "ternary";
  /// A compact string ("ai8pc_wpt") or a JSON object.
  std::string quant = "ai8pc_wpt";
  /// A TrainingConfig JSON file; the numbers below override its fields.
  std::string config;
  int64_t max_steps = -1;
  int64_t batch_size = -1;
  double lr = -1;
  int64_t seed = -1;
  int64_t threads = -1;
  /// "": `runs/<model>-lm-<time>` under the working directory.
  std::string output_dir;
  /// Continue the run in output_dir from its newest valid checkpoint.
  bool resume = false;
  /// Working directory for relative paths ("": the process's).
  std::string working_dir;
};

struct LmTrainSummary {
  std::string output_dir;
  /// The run's steps at the end (its max_steps), and how many of them this call trained (0
  /// when it resumed a finished run).
  int64_t steps = 0;
  int64_t steps_trained = 0;
  /// The checkpoint a resumed run started from; "" otherwise.
  std::string resumed_from;
  /// Mean training loss over the last logging interval; NaN when no step was trained.
  double train_loss = std::numeric_limits<double>::quiet_NaN();
  /// Held-out perplexity of the trained model and of its deployed copy.
  double heldout_perplexity = 0;
  double deployed_heldout_perplexity = 0;
};

/// The TrainingConfig `command` describes (validated; errors name the field or flag).
TrainingConfig lm_training_config_for(const LmTrainCommand& command);

/// Runs the whole command. Throws BitLabError (ConfigError for bad settings, naming the flag)
/// with a message saying what was wrong and what was expected.
LmTrainSummary run_lm_train_command(const LmTrainCommand& command);

}  // namespace trainer
}  // namespace bitlab

#endif  // BITLAB_TRAINER_LM_LM_TRAIN_COMMAND_H_
