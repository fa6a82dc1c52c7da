#include "trainer/data/image_dataset.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <ATen/ops/tensor.h>
#include <c10/core/ScalarType.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bitcore/errors.h"

namespace bitlab {
namespace trainer {
namespace {

std::string shape_of(const at::Tensor& tensor) {
  if (!tensor.defined()) return "undefined";
  return absl::StrCat(c10::toString(tensor.scalar_type()), " [",
                      absl::StrJoin(tensor.sizes(), ", "), "]");
}

}  // namespace

void ImageClassificationData::validate(const std::string& where) const {
  if (!images.defined() || images.scalar_type() != at::kByte || images.dim() != 4 ||
      images.size(1) < 1 || images.size(2) < 1 || images.size(3) < 1) {
    throw ShapeError(absl::StrCat(where, ": images are ", shape_of(images),
                                  ", expected Byte [N, C, H, W] with C, H, W >= 1"));
  }
  if (!labels.defined() || labels.scalar_type() != at::kLong || labels.dim() != 1 ||
      labels.size(0) != images.size(0)) {
    throw ShapeError(absl::StrCat(where, ": labels are ", shape_of(labels), ", expected Long [",
                                  images.size(0), "] (one per image)"));
  }
  if (class_names.empty()) throw BitLabError(absl::StrCat(where, ": no class names"));
  const at::Tensor contiguous_labels = labels.contiguous();
  const int64_t* label = contiguous_labels.data_ptr<int64_t>();
  for (int64_t i = 0; i < labels.size(0); ++i) {
    if (label[i] < 0 || label[i] >= num_classes()) {
      throw BitLabError(absl::StrCat(where, ": sample ", i, " has label ", label[i],
                                     ", expected 0..", num_classes() - 1, " (", num_classes(),
                                     " classes)"));
    }
  }
  if (static_cast<int64_t>(mean.size()) != channels() ||
      static_cast<int64_t>(stddev.size()) != channels()) {
    throw BitLabError(absl::StrCat(where, ": mean has ", mean.size(), " values and stddev ",
                                   stddev.size(), ", expected one per channel (", channels(), ")"));
  }
  for (double s : stddev) {
    if (!(s > 0)) throw BitLabError(absl::StrCat(where, ": stddev value ", s, " is not > 0"));
  }
}

ImageDataset::ImageDataset(ImageClassificationData data, AugmentOptions augment)
    : augment_(augment) {
  data.validate("ImageDataset");
  if (augment.crop_padding < 0) {
    throw BitLabError(
        absl::StrCat("ImageDataset: crop_padding is ", augment.crop_padding, ", expected >= 0"));
  }
  // Contiguous once here, so that each get() reads one sample without copying the data set.
  data.images = data.images.contiguous();
  data.labels = data.labels.contiguous();
  mean_ = at::tensor(data.mean).to(at::kFloat);
  stddev_ = at::tensor(data.stddev).to(at::kFloat);
  data_ = std::make_shared<const ImageClassificationData>(std::move(data));
}

torch::data::Example<> ImageDataset::get(size_t index) {
  if (index >= static_cast<size_t>(data_->size())) {
    throw BitLabError(absl::StrCat("ImageDataset::get: index ", index, " is out of range (",
                                   data_->size(), " samples)"));
  }
  const auto i = static_cast<int64_t>(index);
  at::Tensor image = data_->images[i].to(at::kFloat).div_(255);
  if (augment_.enabled()) {
    image = apply_augmentation(image, augment_, draw_augmentation(augment_, seed_, epoch_, i));
  }
  return {normalize(image, mean_, stddev_), data_->labels[i]};
}

c10::optional<size_t> ImageDataset::size() const { return static_cast<size_t>(data_->size()); }

ImageDataset ImageDataset::for_epoch(uint64_t seed, int64_t epoch) const {
  ImageDataset copy = *this;
  copy.seed_ = seed;
  copy.epoch_ = epoch;
  return copy;
}

}  // namespace trainer
}  // namespace bitlab
