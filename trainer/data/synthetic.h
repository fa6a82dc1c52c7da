// A deterministic synthetic image-classification data set, for tests and smoke runs.
//
// Each class k has a prototype image P_k with pixels drawn from N(0, 1); a sample of class k is
// clamp(round(128 + 48 * (P_k + noise * Z)), 0, 255) with Z ~ N(0, 1) per pixel. The prototypes
// depend on `seed` only and the samples on (seed, sample_stream), so a train and a test split
// (different sample_stream) share the classes. Labels are balanced: sample i has class i mod K
// before a seeded shuffle. Everything comes from at::Generator objects seeded by (seed, keys)
// (seeds.h), never from the global RNG, so the same options give the same bytes every time.
//
// Learnable: prototypes of two classes differ by about sqrt(2) per pixel against a noise of
// `noise` per pixel, so any model that can average pixels separates them; raise noise to make
// the task harder.
//
// Example:
//   bitlab::trainer::SyntheticOptions options;   // 1 x 16 x 16, 10 classes
//   options.samples = 512;
//   bitlab::trainer::ImageClassificationData data = bitlab::trainer::make_synthetic(options);
#ifndef BITLAB_TRAINER_DATA_SYNTHETIC_H_
#define BITLAB_TRAINER_DATA_SYNTHETIC_H_

#include <cstdint>

#include "trainer/data/image_dataset.h"

namespace bitlab {
namespace trainer {

struct SyntheticOptions {
  int64_t samples = 1024;
  int64_t channels = 1;
  int64_t height = 16;
  int64_t width = 16;
  int64_t classes = 10;
  /// Standard deviation of the per-pixel noise, relative to that of the prototypes.
  double noise = 1.0;
  /// Fixes the class prototypes.
  uint64_t seed = 0;
  /// Fixes the samples drawn around them: use one value per split.
  uint64_t sample_stream = 0;
};

/// The data set `options` describe, with class names "class_0" .. and the mean (128 / 255) and
/// standard deviation (48 * sqrt(1 + noise^2) / 255, ignoring the clamp) of its pixels. Throws
/// BitLabError for sizes < 1 (samples may be 0) or a negative noise.
ImageClassificationData make_synthetic(const SyntheticOptions& options);

}  // namespace trainer
}  // namespace bitlab

#endif  // BITLAB_TRAINER_DATA_SYNTHETIC_H_
