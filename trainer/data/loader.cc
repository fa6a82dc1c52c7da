#include "trainer/data/loader.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <utility>
#include <vector>

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/Generator.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/randperm.h>
#include <torch/data/dataloader.h>
#include <torch/data/dataloader_options.h>
#include <torch/data/datasets/map.h>
#include <torch/data/iterator.h>
#include <torch/data/samplers/base.h>
#include <torch/data/transforms/stack.h>
#include <torch/data/worker_exception.h>

#include "absl/strings/str_cat.h"
#include "bitcore/errors.h"
#include "trainer/data/seeds.h"

namespace bitlab {
namespace trainer {
namespace {

// Hands libtorch's data loader a fixed index order, batch_size at a time. The order is computed
// up front by BatchLoader, so the sampler itself holds no randomness.
class IndexSampler : public torch::data::samplers::Sampler<> {
 public:
  explicit IndexSampler(std::vector<size_t> indices) : indices_(std::move(indices)) {}

  // The data loader rewinds the sampler when an iteration begins; a new size has no meaning for
  // a fixed order.
  void reset(c10::optional<size_t> /*new_size*/ = c10::nullopt) override { position_ = 0; }

  c10::optional<std::vector<size_t>> next(size_t batch_size) override {
    if (position_ >= indices_.size()) return c10::nullopt;
    const size_t end = std::min(indices_.size(), position_ + batch_size);
    std::vector<size_t> batch(indices_.begin() + position_, indices_.begin() + end);
    position_ = end;
    return batch;
  }

  // A run resumes from (epoch, batch) through BatchLoader::epoch, not from sampler state.
  void save(torch::serialize::OutputArchive& /*archive*/) const override {
    throw BitLabError("IndexSampler::save: not supported; resume with BatchLoader::epoch");
  }
  void load(torch::serialize::InputArchive& /*archive*/) override {
    throw BitLabError("IndexSampler::load: not supported; resume with BatchLoader::epoch");
  }

 private:
  std::vector<size_t> indices_;
  size_t position_ = 0;
};

using StackedDataset =
    torch::data::datasets::MapDataset<ImageDataset, torch::data::transforms::Stack<>>;
using DataLoader = torch::data::StatelessDataLoader<StackedDataset, IndexSampler>;

}  // namespace

struct EpochReader::Impl {
  std::unique_ptr<DataLoader> loader;
  // Unset before the first batch; declared after `loader`, which its batch producer points to,
  // so that it is destroyed first.
  c10::optional<torch::data::Iterator<torch::data::Example<>>> position;
  bool done = false;
};

EpochReader::EpochReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EpochReader::EpochReader(EpochReader&&) noexcept = default;
EpochReader& EpochReader::operator=(EpochReader&&) noexcept = default;
EpochReader::~EpochReader() = default;

c10::optional<Batch> EpochReader::next() {
  if (impl_ == nullptr || impl_->done) return c10::nullopt;
  try {
    if (!impl_->position) {
      impl_->position = impl_->loader->begin();
    } else {
      ++*impl_->position;
    }
    if (*impl_->position == impl_->loader->end()) {
      impl_->done = true;
      return c10::nullopt;
    }
  } catch (const torch::data::WorkerException& e) {
    impl_->done = true;
    std::rethrow_exception(e.original_exception);
  } catch (...) {
    impl_->done = true;
    throw;
  }
  torch::data::Example<>& example = **impl_->position;
  return Batch{std::move(example.data), std::move(example.target)};
}

BatchLoader::BatchLoader(ImageDataset dataset, LoaderOptions options)
    : dataset_(std::move(dataset)), options_(options) {
  const LoaderOptions& o = options_;
  if (o.batch_size < 1 || o.workers < 0 || o.world_size < 1 || o.rank < 0 ||
      o.rank >= o.world_size) {
    throw BitLabError(absl::StrCat("BatchLoader: batch_size ", o.batch_size, ", workers ",
                                   o.workers, ", rank ", o.rank, ", world_size ", o.world_size,
                                   ": expected batch_size >= 1, workers >= 0, world_size >= 1 "
                                   "and 0 <= rank < world_size"));
  }
  if (batches_per_epoch() == 0) {
    throw BitLabError(absl::StrCat(
        "BatchLoader: no batch in an epoch: ", dataset_.data().size(), " samples over ",
        o.world_size, " rank(s) leave ", samples_per_epoch(), " per rank",
        o.drop_last ? absl::StrCat(", fewer than batch_size ", o.batch_size, " with drop_last")
                    : ""));
  }
}

int64_t BatchLoader::samples_per_epoch() const {
  return dataset_.data().size() / options_.world_size;
}

int64_t BatchLoader::batches_per_epoch() const {
  const int64_t samples = samples_per_epoch();
  const int64_t b = options_.batch_size;
  return options_.drop_last ? samples / b : (samples + b - 1) / b;
}

std::vector<size_t> BatchLoader::epoch_order(int64_t epoch) const {
  const int64_t n = dataset_.data().size();
  at::Tensor order;
  if (options_.shuffle) {
    // A generator of its own per epoch: the order depends on (seed, epoch) only.
    at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(
        derive_seed(options_.seed, {kPermutationStream, static_cast<uint64_t>(epoch)}));
    order = at::randperm(n, generator, at::kLong);
  } else {
    order = at::arange(n, at::kLong);
  }
  const int64_t* all = order.data_ptr<int64_t>();
  std::vector<size_t> mine(samples_per_epoch());
  for (size_t k = 0; k < mine.size(); ++k) {
    mine[k] =
        static_cast<size_t>(all[options_.rank + static_cast<int64_t>(k) * options_.world_size]);
  }
  return mine;
}

EpochReader BatchLoader::epoch(int64_t epoch, int64_t start_batch) const {
  if (epoch < 0 || start_batch < 0 || start_batch > batches_per_epoch()) {
    throw BitLabError(absl::StrCat("BatchLoader::epoch: epoch ", epoch, ", start_batch ",
                                   start_batch, ": expected epoch >= 0 and start_batch in [0, ",
                                   batches_per_epoch(), "]"));
  }
  const std::vector<size_t> order = epoch_order(epoch);
  const auto batch_size = static_cast<size_t>(options_.batch_size);
  const size_t end = std::min(order.size(), static_cast<size_t>(batches_per_epoch()) * batch_size);
  const size_t begin = std::min(end, static_cast<size_t>(start_batch) * batch_size);
  auto impl = std::make_unique<EpochReader::Impl>();
  // The batch size and drop_last are already in the index list; ordering stays enforced so
  // that batches come out in sampler order whichever worker finishes first.
  impl->loader = torch::data::make_data_loader(
      dataset_.for_epoch(options_.seed, epoch).map(torch::data::transforms::Stack<>()),
      IndexSampler(std::vector<size_t>(order.begin() + begin, order.begin() + end)),
      torch::data::DataLoaderOptions()
          .batch_size(batch_size)
          .workers(static_cast<size_t>(options_.workers))
          .enforce_ordering(true));
  return EpochReader(std::move(impl));
}

}  // namespace trainer
}  // namespace bitlab
