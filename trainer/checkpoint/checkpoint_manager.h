// Training checkpoints that survive crashes: the model's tensors, the optimizer's state, the
// RNG state and where training stood, saved so that a process killed at any moment leaves
// either the previous checkpoints intact or the new one complete, and verified by checksum
// before anything is loaded from them.
//
// On-disk layout, one directory per checkpoint under `root`:
//   <root>/step-00000420/
//     model.safetensors  save_model_weights (Bit layers' packed caches left out)
//     optimizer.pt       optimizer.save() as a libtorch archive
//     manifest.pb        proto::CheckpointManifest (checkpoint.proto), written last: step,
//                        epoch, batch in epoch, optimizer and scheduler, RNG states, metrics,
//                        configs, each file's size and SHA-256 and each tensor's SHA-256
//   <root>/.tmp-*        unfinished saves and deletions: ignored, removed by the next save
//
// Saving writes everything into <root>/.tmp-step-<N>-<pid>/ (every file fsynced, the manifest
// last, then the directory), renames it to step-<N> and fsyncs <root>. An existing step-<N> is
// swapped out atomically (renameat2 RENAME_EXCHANGE; on file systems without it, moved aside
// first, so a crash in between loses only that old step-<N>). Old checkpoints are renamed to
// .tmp-* before being deleted, so a crash mid-delete never leaves a half-deleted step-<N>.
//
// Retention: after each save, the newest `keep_last` checkpoints by step are kept, plus the
// one just saved, plus the best: the newest checkpoint whose manifest says is_best (save()'s
// `is_best`). Keeping the tag in the manifest makes it as crash-safe as the checkpoint itself.
// One root has one writer at a time.
//
// Example:
//   bitlab::trainer::CheckpointManager checkpoints("/runs/mnist/checkpoints", /*keep_last=*/3);
//   bitlab::trainer::TrainingState state;
//   if (auto dir = checkpoints.latest_valid()) state = checkpoints.load(*dir, *model, optimizer);
//   for (...) {
//     ...  // train one step
//     state.step++;
//     if (state.step % 1000 == 0) checkpoints.save(*model, optimizer, state, /*is_best=*/false);
//   }
#ifndef BITLAB_TRAINER_CHECKPOINT_CHECKPOINT_MANAGER_H_
#define BITLAB_TRAINER_CHECKPOINT_CHECKPOINT_MANAGER_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <c10/util/Optional.h>
#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

namespace bitlab {
namespace trainer {

/// Where training stands, besides the model and the optimizer.
struct TrainingState {
  int64_t step = 0;
  int64_t epoch = 0;
  /// Batches of `epoch` already consumed: the data-order position to resume at.
  int64_t batch_in_epoch = 0;
  std::string scheduler_name;
  int64_t scheduler_step = 0;
  std::map<std::string, double> metrics;
  /// The best value of the tracked metric so far; none before the first evaluation.
  c10::optional<double> best_metric;
  std::string training_config_json;
  std::string model_config_json;
  /// Generators other than libtorch's default CPU one (saved and restored automatically), as
  /// opaque bytes by the trainer's name, e.g. {"cuda:0", ...} or {"data_shuffle", ...}.
  std::map<std::string, std::string> other_rng_states;
};

bool operator==(const TrainingState& a, const TrainingState& b);
inline bool operator!=(const TrainingState& a, const TrainingState& b) { return !(a == b); }

/// A checkpoint latest_valid() or best() passed over, and why.
struct SkippedCheckpoint {
  std::string dir;
  /// E.g. "checkpoint /runs/a/step-00000420: model.safetensors: is 573 bytes, the manifest
  /// says 580 (truncated?)".
  std::string reason;
};

/// The manifest's format version this build writes and reads.
constexpr uint32_t kCheckpointFormatVersion = 1;

class CheckpointManager {
 public:
  /// `root` is created on the first save. Throws BitLabError when keep_last < 1.
  CheckpointManager(std::string root, int keep_last);

  const std::string& root() const { return root_; }

  /// Saves `<root>/step-<state.step>` (replacing one there), applies the retention rule (file
  /// comment) and returns the checkpoint's directory. Throws BitLabError naming the file.
  std::string save(const torch::nn::Module& model, const torch::optim::Optimizer& optimizer,
                   const TrainingState& state, bool is_best);

  /// The directory of the newest checkpoint that verifies, or nullopt. Each one passed over is
  /// reported as a warning line on stderr and, when `skipped` is given, appended to it.
  c10::optional<std::string> latest_valid(std::vector<SkippedCheckpoint>* skipped = nullptr) const;
  /// The same for the checkpoints tagged best.
  c10::optional<std::string> best(std::vector<SkippedCheckpoint>* skipped = nullptr) const;

  /// Checks a checkpoint: the manifest parses and has a known version and the directory's step,
  /// and every listed file has its size and SHA-256, and every tensor its SHA-256. Throws
  /// BitLabError naming the directory, the file (and tensor) and what differs.
  static void verify(const std::string& checkpoint_dir);

  /// Verifies `checkpoint_dir`, loads it into `model` and `optimizer` (which must be of the
  /// saved type and structure), restores libtorch's default CPU generator and returns the
  /// rest. Throws BitLabError naming the checkpoint and the file on any mismatch.
  static TrainingState load(const std::string& checkpoint_dir, torch::nn::Module& model,
                            torch::optim::Optimizer& optimizer);

 private:
  void remove_old_checkpoints(const std::string& just_saved) const;

  std::string root_;
  int keep_last_;
};

}  // namespace trainer
}  // namespace bitlab

#endif  // BITLAB_TRAINER_CHECKPOINT_CHECKPOINT_MANAGER_H_
