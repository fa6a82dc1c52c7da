// ImageClassificationData, a labelled image data set in memory, and ImageDataset, the libtorch
// dataset over it that yields normalized (and, for training, augmented) float images.
//
// Layout: images are uint8 [N, C, H, W] (channels first, as the models take them and as the
// CIFAR binary files store them; the IDX data sets have C = 1); labels are int64 [N] in
// [0, class_names.size()). mean and stddev are per channel, for pixels scaled to [0, 1].
//
// ImageDataset::get(i) returns {float [C, H, W], int64 scalar label}: the pixels / 255,
// augmented when the augmentation options enable it (crop with zero padding, horizontal flip;
// transforms.h), then normalized with the data's mean and stddev. Copies are cheap (the data is
// shared, read-only), which the libtorch data loader relies on: it copies the dataset into each
// worker thread.
//
// Example:
//   bitlab::trainer::ImageClassificationData data =
//       bitlab::trainer::load_dataset("fashion_mnist", "", "train");
//   bitlab::trainer::ImageDataset dataset(std::move(data), bitlab::trainer::AugmentOptions{});
//   torch::data::Example<> example = dataset.get(0);   // data [1, 28, 28], target int64 []
#ifndef BITLAB_TRAINER_DATA_IMAGE_DATASET_H_
#define BITLAB_TRAINER_DATA_IMAGE_DATASET_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <c10/util/Optional.h>
#include <torch/data/datasets/base.h>
#include <torch/data/example.h>

#include "trainer/data/transforms.h"

namespace bitlab {
namespace trainer {

struct ImageClassificationData {
  /// uint8 [N, C, H, W].
  at::Tensor images;
  /// int64 [N], each in [0, class_names.size()).
  at::Tensor labels;
  std::vector<std::string> class_names;
  /// Per channel, of pixels scaled to [0, 1]: normalization computes (x - mean) / stddev.
  std::vector<double> mean;
  std::vector<double> stddev;

  int64_t size() const { return images.size(0); }
  int64_t channels() const { return images.size(1); }
  int64_t height() const { return images.size(2); }
  int64_t width() const { return images.size(3); }
  int64_t num_classes() const { return static_cast<int64_t>(class_names.size()); }

  /// Throws BitLabError (ShapeError for tensors) starting with `where` unless images is uint8
  /// [N, C, H, W] with C, H, W >= 1, labels int64 [N] in [0, num_classes()), there is at least
  /// one class, and mean and stddev have one value per channel with stddev > 0.
  void validate(const std::string& where) const;
};

class ImageDataset : public torch::data::datasets::Dataset<ImageDataset> {
 public:
  /// Validates `data` (ImageClassificationData::validate) and keeps it, shared, read-only.
  explicit ImageDataset(ImageClassificationData data, AugmentOptions augment = {});

  /// {float [C, H, W] normalized image, int64 scalar label} of sample `index`. Throws
  /// BitLabError for an index out of range.
  torch::data::Example<> get(size_t index) override;
  c10::optional<size_t> size() const override;

  /// A copy whose augmentation draws are those of (seed, epoch) (transforms.h); a fresh
  /// dataset draws with seed 0, epoch 0.
  ImageDataset for_epoch(uint64_t seed, int64_t epoch) const;

  const ImageClassificationData& data() const { return *data_; }
  const AugmentOptions& augment() const { return augment_; }

 private:
  std::shared_ptr<const ImageClassificationData> data_;
  AugmentOptions augment_;
  // float [C], from data_->mean and data_->stddev.
  at::Tensor mean_;
  at::Tensor stddev_;
  uint64_t seed_ = 0;
  int64_t epoch_ = 0;
};

}  // namespace trainer
}  // namespace bitlab

#endif  // BITLAB_TRAINER_DATA_IMAGE_DATASET_H_
