// BatchLoader: deterministic, resumable, sharded batches of an ImageDataset, prepared ahead by
// libtorch's data loader threads.
//
// The order of epoch e is a permutation of the samples drawn from a generator seeded by
// (seed, e) (or the identity without shuffle): never the global RNG, so a run resumed at
// (epoch, batch) sees exactly the batches the original run would have. Each sample's
// augmentation is drawn from (seed, epoch, sample index) (transforms.h), so neither the number
// of workers nor which worker loads a sample changes a batch.
//
// Sharding: rank r of world_size takes elements r, r + world_size, r + 2 * world_size, ... of
// the permutation, floor(N / world_size) of them, so every rank has the same number of samples
// and batches (the remainder is left out of that epoch; a different permutation leaves out
// different samples next epoch). Batches are consecutive runs of batch_size of a rank's
// samples; the last is smaller unless drop_last.
//
// Example:
//   bitlab::trainer::BatchLoader loader(bitlab::trainer::ImageDataset(data, augment),
//                                       {/*batch_size=*/128, /*workers=*/2});
//   for (int64_t epoch = start_epoch; epoch < epochs; ++epoch) {
//     bitlab::trainer::EpochReader reader =
//         loader.epoch(epoch, epoch == start_epoch ? start_batch : 0);
//     while (c10::optional<bitlab::trainer::Batch> batch = reader.next()) {
//       train_step(batch->images, batch->labels);   // float [B, C, H, W], int64 [B]
//     }
//   }
#ifndef BITLAB_TRAINER_DATA_LOADER_H_
#define BITLAB_TRAINER_DATA_LOADER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include <ATen/core/Tensor.h>
#include <c10/util/Optional.h>

#include "trainer/data/image_dataset.h"

namespace bitlab {
namespace trainer {

struct LoaderOptions {
  int64_t batch_size = 32;
  /// Threads preparing batches ahead of the caller; 0 loads each batch in next().
  int64_t workers = 0;
  /// A new permutation every epoch; false keeps the data set's order.
  bool shuffle = true;
  /// Seeds the permutations and the augmentation.
  uint64_t seed = 0;
  int64_t rank = 0;
  int64_t world_size = 1;
  /// Leaves out a last batch smaller than batch_size.
  bool drop_last = false;
};

struct Batch {
  /// float [B, C, H, W], normalized (and augmented when the dataset augments).
  at::Tensor images;
  /// int64 [B].
  at::Tensor labels;
};

/// The batches of one epoch, in order; move-only. Stopping early is fine: destruction waits for
/// the batches in flight and drops them.
class EpochReader {
 public:
  EpochReader(EpochReader&&) noexcept;
  EpochReader& operator=(EpochReader&&) noexcept;
  ~EpochReader();

  /// The next batch, or nullopt after the last. An error in a worker thread is rethrown here
  /// as it was thrown (not wrapped), as without workers.
  c10::optional<Batch> next();

 private:
  friend class BatchLoader;
  struct Impl;
  explicit EpochReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

class BatchLoader {
 public:
  /// Throws BitLabError for batch_size < 1, workers < 0, world_size < 1, rank outside
  /// [0, world_size), or an epoch with no batch (fewer samples than ranks, or with drop_last
  /// fewer per rank than batch_size).
  BatchLoader(ImageDataset dataset, LoaderOptions options);

  /// This rank's samples per epoch: floor(N / world_size).
  int64_t samples_per_epoch() const;
  /// This rank's batches per epoch (the same on every rank).
  int64_t batches_per_epoch() const;

  /// This rank's sample indices of `epoch`, in order; a pure function of (options, epoch).
  std::vector<size_t> epoch_order(int64_t epoch) const;

  /// The batches start_batch, start_batch + 1, ... of `epoch` (0 <= start_batch <=
  /// batches_per_epoch(); resuming at batch b gives exactly the batches b, b + 1, ... of an
  /// uninterrupted epoch). Throws BitLabError for a negative epoch or start_batch out of range.
  EpochReader epoch(int64_t epoch, int64_t start_batch = 0) const;

  const LoaderOptions& options() const { return options_; }
  const ImageDataset& dataset() const { return dataset_; }

 private:
  ImageDataset dataset_;
  LoaderOptions options_;
};

}  // namespace trainer
}  // namespace bitlab

#endif  // BITLAB_TRAINER_DATA_LOADER_H_
