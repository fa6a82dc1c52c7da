// Image augmentation and normalization for float images [C, H, W] (pixels scaled to [0, 1]).
//
// Augmentation: a random crop (the image padded with `crop_padding` zero pixels on every side,
// then a window of the original size cut out at a random offset: a random shift of up to
// crop_padding pixels each way, the uncovered border black) and a random horizontal flip
// (probability 1/2), as torchvision's RandomCrop(size, padding) and RandomHorizontalFlip.
//
// Why the draws take (seed, epoch, index): a sample's augmentation is a pure function of them,
// never of the global RNG or of the worker thread that loads the sample, so a resumed run and
// any number of loader workers produce identical batches.
//
// Example:
//   bitlab::trainer::AugmentOptions augment{/*crop_padding=*/4, /*horizontal_flip=*/true};
//   auto draw = bitlab::trainer::draw_augmentation(augment, seed, epoch, sample_index);
//   at::Tensor x = bitlab::trainer::apply_augmentation(image, augment, draw);
//   x = bitlab::trainer::normalize(x, mean, stddev);   // mean, stddev: float [C]
#ifndef BITLAB_TRAINER_DATA_TRANSFORMS_H_
#define BITLAB_TRAINER_DATA_TRANSFORMS_H_

#include <cstdint>

#include <ATen/core/Tensor.h>

namespace bitlab {
namespace trainer {

struct AugmentOptions {
  /// Random crop: zero pixels added on every side before cutting out a window of the original
  /// size at a random offset. 0: no crop.
  int64_t crop_padding = 0;
  /// Flip left-right with probability 1/2.
  bool horizontal_flip = false;

  bool enabled() const { return crop_padding > 0 || horizontal_flip; }
};

/// One sample's random choices. The crop window starts at (crop_top, crop_left) in the padded
/// image, each in [0, 2 * crop_padding]; crop_padding, crop_padding is the unshifted image.
struct AugmentDraw {
  int64_t crop_top = 0;
  int64_t crop_left = 0;
  bool flip = false;
};

/// The draw for sample `index` in `epoch` of a run seeded with `seed`; a pure function of its
/// arguments. Throws BitLabError for a negative crop_padding.
AugmentDraw draw_augmentation(const AugmentOptions& options, uint64_t seed, int64_t epoch,
                              int64_t index);

/// The [C, H, W] window at (top, left) of `image` zero-padded by `padding` on every side:
/// out[c][y][x] = image[c][y + top - padding][x + left - padding], 0 outside the image.
/// Throws ShapeError for an image not 3-D, BitLabError for top or left outside
/// [0, 2 * padding].
at::Tensor crop_padded(const at::Tensor& image, int64_t padding, int64_t top, int64_t left);

/// [C, H, W] mirrored left-right (along W).
at::Tensor flip_horizontal(const at::Tensor& image);

/// The crop (when options.crop_padding > 0) then the flip (when options.horizontal_flip and
/// draw.flip) of a float [C, H, W] image.
at::Tensor apply_augmentation(const at::Tensor& image, const AugmentOptions& options,
                              const AugmentDraw& draw);

/// (image[c] - mean[c]) / stddev[c] for a float [C, H, W] image; mean and stddev float [C].
/// Throws ShapeError when the sizes disagree.
at::Tensor normalize(const at::Tensor& image, const at::Tensor& mean, const at::Tensor& stddev);

}  // namespace trainer
}  // namespace bitlab

#endif  // BITLAB_TRAINER_DATA_TRANSFORMS_H_
