#include "trainer/data/loader.h"

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <set>
#include <vector>

#include <ATen/ops/cat.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/stack.h>
#include <gtest/gtest.h>

#include "bitcore/errors.h"
#include "trainer/data/image_dataset.h"
#include "trainer/data/synthetic.h"

namespace bitlab {
namespace trainer {
namespace {

// 50 samples of 1 x 4 x 4, 5 classes.
ImageDataset dataset(int64_t samples = 50, AugmentOptions augment = {}) {
  SyntheticOptions options;
  options.samples = samples;
  options.height = 4;
  options.width = 4;
  options.classes = 5;
  return ImageDataset(make_synthetic(options), augment);
}

LoaderOptions options(int64_t batch_size, int64_t workers = 0) {
  LoaderOptions o;
  o.batch_size = batch_size;
  o.workers = workers;
  o.seed = 11;
  return o;
}

std::vector<Batch> read_all(EpochReader reader) {
  std::vector<Batch> batches;
  while (c10::optional<Batch> batch = reader.next()) batches.push_back(std::move(*batch));
  return batches;
}

void expect_same_batches(const std::vector<Batch>& a, const std::vector<Batch>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(at::equal(a[i].images, b[i].images)) << "batch " << i;
    EXPECT_TRUE(at::equal(a[i].labels, b[i].labels)) << "batch " << i;
  }
}

TEST(BatchLoaderTest, OrderIsAPermutationFixedBySeedAndEpoch) {
  const BatchLoader loader(dataset(), options(16));
  const std::vector<size_t> order = loader.epoch_order(3);
  std::vector<size_t> sorted = order;
  std::sort(sorted.begin(), sorted.end());
  std::vector<size_t> all(50);
  std::iota(all.begin(), all.end(), 0);
  EXPECT_EQ(sorted, all);
  EXPECT_EQ(BatchLoader(dataset(), options(16)).epoch_order(3), order);
  EXPECT_NE(loader.epoch_order(4), order);
  LoaderOptions other_seed = options(16);
  other_seed.seed = 12;
  EXPECT_NE(BatchLoader(dataset(), other_seed).epoch_order(3), order);
  LoaderOptions in_order = options(16);
  in_order.shuffle = false;
  EXPECT_EQ(BatchLoader(dataset(), in_order).epoch_order(3), all);
}

TEST(BatchLoaderTest, BatchesFollowTheOrder) {
  ImageDataset data = dataset();
  const BatchLoader loader(data, options(16));
  EXPECT_EQ(loader.batches_per_epoch(), 4);
  const std::vector<Batch> batches = read_all(loader.epoch(2));
  ASSERT_EQ(batches.size(), 4u);
  std::vector<at::Tensor> images, labels;
  for (const Batch& batch : batches) {
    EXPECT_EQ(batch.images.scalar_type(), at::kFloat);
    EXPECT_EQ(batch.labels.scalar_type(), at::kLong);
    EXPECT_EQ(batch.images.size(0), batch.labels.size(0));
    images.push_back(batch.images);
    labels.push_back(batch.labels);
  }
  EXPECT_EQ(batches.back().images.sizes(), (std::vector<int64_t>{2, 1, 4, 4}));
  std::vector<at::Tensor> want_images, want_labels;
  for (size_t index : loader.epoch_order(2)) {
    torch::data::Example<> example = data.get(index);
    want_images.push_back(example.data);
    want_labels.push_back(example.target);
  }
  EXPECT_TRUE(at::equal(at::cat(images), at::stack(want_images)));
  EXPECT_TRUE(at::equal(at::cat(labels), at::stack(want_labels)));
}

TEST(BatchLoaderTest, DropLastDropsTheShortBatch) {
  LoaderOptions o = options(16);
  o.drop_last = true;
  const BatchLoader loader(dataset(), o);
  EXPECT_EQ(loader.batches_per_epoch(), 3);
  const std::vector<Batch> batches = read_all(loader.epoch(0));
  ASSERT_EQ(batches.size(), 3u);
  for (const Batch& batch : batches) EXPECT_EQ(batch.images.size(0), 16);
}

TEST(BatchLoaderTest, StartBatchResumesExactly) {
  const BatchLoader loader(dataset(50, AugmentOptions{1, true}), options(8));
  const std::vector<Batch> full = read_all(loader.epoch(5));
  ASSERT_EQ(full.size(), 7u);
  for (int64_t start : {1, 3, 6}) {
    expect_same_batches(read_all(loader.epoch(5, start)),
                        std::vector<Batch>(full.begin() + start, full.end()));
  }
  // A resumed run uses a fresh loader: nothing depends on what ran before.
  const BatchLoader resumed(dataset(50, AugmentOptions{1, true}), options(8));
  expect_same_batches(read_all(resumed.epoch(5, 4)),
                      std::vector<Batch>(full.begin() + 4, full.end()));
  EXPECT_TRUE(read_all(loader.epoch(5, 7)).empty());
  EXPECT_THROW(loader.epoch(5, 8), BitLabError);
  EXPECT_THROW(loader.epoch(-1), BitLabError);
}

TEST(BatchLoaderTest, WorkersGiveIdenticalBatches) {
  const ImageDataset augmented = dataset(50, AugmentOptions{1, true});
  const std::vector<Batch> inline_batches =
      read_all(BatchLoader(augmented, options(4, 0)).epoch(1));
  ASSERT_EQ(inline_batches.size(), 13u);
  for (int64_t workers : {1, 2, 3}) {
    SCOPED_TRACE(workers);
    const BatchLoader loader(augmented, options(4, workers));
    expect_same_batches(read_all(loader.epoch(1)), inline_batches);
    expect_same_batches(read_all(loader.epoch(1, 5)),
                        std::vector<Batch>(inline_batches.begin() + 5, inline_batches.end()));
    // Stopping early: the reader waits for the batches in flight when destroyed.
    EpochReader reader = loader.epoch(1);
    ASSERT_TRUE(reader.next().has_value());
  }
}

TEST(BatchLoaderTest, RanksPartitionTheEpoch) {
  for (int64_t world_size : {2, 3}) {
    SCOPED_TRACE(world_size);
    std::set<size_t> seen;
    int64_t batches = -1;
    for (int64_t rank = 0; rank < world_size; ++rank) {
      LoaderOptions o = options(8);
      o.rank = rank;
      o.world_size = world_size;
      const BatchLoader loader(dataset(51), o);
      EXPECT_EQ(loader.samples_per_epoch(), 51 / world_size);
      if (batches >= 0) {
        EXPECT_EQ(loader.batches_per_epoch(), batches);
      }
      batches = loader.batches_per_epoch();
      const std::vector<size_t> order = loader.epoch_order(2);
      EXPECT_EQ(static_cast<int64_t>(order.size()), 51 / world_size);
      seen.insert(order.begin(), order.end());
      // Rank r takes elements r, r + world_size, ... of the one-rank permutation.
      const std::vector<size_t> everything = BatchLoader(dataset(51), options(8)).epoch_order(2);
      for (size_t k = 0; k < order.size(); ++k)
        EXPECT_EQ(order[k], everything[rank + k * world_size]);
      EXPECT_EQ(static_cast<int64_t>(read_all(loader.epoch(2)).size()), batches);
    }
    // Disjoint shards (no index twice) covering all but the remainder.
    EXPECT_EQ(static_cast<int64_t>(seen.size()), 51 / world_size * world_size);
  }
}

TEST(BatchLoaderTest, RejectsBadOptions) {
  LoaderOptions o = options(8);
  o.rank = 2;
  o.world_size = 2;
  EXPECT_THROW(BatchLoader(dataset(), o), BitLabError);
  EXPECT_THROW(BatchLoader(dataset(), options(0)), BitLabError);
  EXPECT_THROW(BatchLoader(dataset(), options(8, -1)), BitLabError);
  o = options(64);
  o.drop_last = true;
  EXPECT_THROW(BatchLoader(dataset(), o), BitLabError);
  o = options(8);
  o.world_size = 4;
  EXPECT_THROW(BatchLoader(dataset(3), o), BitLabError);
}

}  // namespace
}  // namespace trainer
}  // namespace bitlab
