#include "trainer/data/synthetic.h"

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/TensorOperators.h>
#include <ATen/core/Generator.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/randperm.h>

#include "absl/strings/str_cat.h"
#include "bitcore/errors.h"
#include "trainer/data/seeds.h"

namespace bitlab {
namespace trainer {
namespace {

// Pixel value = kCenter + kScale * (prototype + noise): mid-grey with about +-2.7 standard
// deviations of the prototypes before the clamp.
constexpr double kCenter = 128;
constexpr double kScale = 48;

at::Generator generator(uint64_t seed, std::initializer_list<uint64_t> keys) {
  return at::make_generator<at::CPUGeneratorImpl>(derive_seed(seed, keys));
}

}  // namespace

ImageClassificationData make_synthetic(const SyntheticOptions& options) {
  if (options.samples < 0 || options.channels < 1 || options.height < 1 || options.width < 1 ||
      options.classes < 1 || !(options.noise >= 0)) {
    throw BitLabError(absl::StrCat(
        "make_synthetic: samples ", options.samples, ", channels ", options.channels, ", height ",
        options.height, ", width ", options.width, ", classes ", options.classes, ", noise ",
        options.noise,
        ": expected samples >= 0, channels, height, width, classes >= 1 and noise >= 0"));
  }
  const std::vector<int64_t> image_shape = {options.channels, options.height, options.width};
  std::vector<int64_t> prototypes_shape = image_shape;
  prototypes_shape.insert(prototypes_shape.begin(), options.classes);
  std::vector<int64_t> samples_shape = image_shape;
  samples_shape.insert(samples_shape.begin(), options.samples);

  const at::Tensor prototypes =
      at::randn(prototypes_shape, generator(options.seed, {kSyntheticStream, 0}), at::kFloat);
  at::Generator samples = generator(options.seed, {kSyntheticStream, 1, options.sample_stream});
  ImageClassificationData data;
  data.labels = at::randperm(options.samples, samples, at::kLong) % options.classes;
  const at::Tensor noise = at::randn(samples_shape, samples, at::kFloat);
  data.images =
      (kCenter + kScale * (prototypes.index_select(0, data.labels) + options.noise * noise))
          .round()
          .clamp(0, 255)
          .to(at::kByte);
  for (int64_t k = 0; k < options.classes; ++k)
    data.class_names.push_back(absl::StrCat("class_", k));
  const double stddev = kScale * std::sqrt(1 + options.noise * options.noise) / 255;
  data.mean.assign(options.channels, kCenter / 255);
  data.stddev.assign(options.channels, stddev);
  return data;
}

}  // namespace trainer
}  // namespace bitlab
