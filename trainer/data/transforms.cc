#include "trainer/data/transforms.h"

#include <algorithm>
#include <cstdint>

#include <ATen/TensorOperators.h>
#include <ATen/ops/flip.h>
#include <ATen/ops/zeros_like.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bitcore/errors.h"
#include "trainer/data/seeds.h"

namespace bitlab {
namespace trainer {
namespace {

void check_image(const char* where, const at::Tensor& image) {
  if (image.dim() != 3) {
    throw ShapeError(
        absl::StrCat(where, ": image has ", image.dim(), " dimensions, expected 3 ([C, H, W])"));
  }
}

}  // namespace

AugmentDraw draw_augmentation(const AugmentOptions& options, uint64_t seed, int64_t epoch,
                              int64_t index) {
  if (options.crop_padding < 0) {
    throw BitLabError(absl::StrCat("draw_augmentation: crop_padding is ", options.crop_padding,
                                   ", expected >= 0"));
  }
  SplitMix64 rng(derive_seed(
      seed, {kAugmentStream, static_cast<uint64_t>(epoch), static_cast<uint64_t>(index)}));
  // Always three draws in the same order, so turning one augmentation on or off leaves the
  // other's choices unchanged.
  const uint64_t window_positions = 2 * static_cast<uint64_t>(options.crop_padding) + 1;
  AugmentDraw draw;
  draw.crop_top = static_cast<int64_t>(rng.below(window_positions));
  draw.crop_left = static_cast<int64_t>(rng.below(window_positions));
  draw.flip = rng.below(2) == 1;
  return draw;
}

at::Tensor crop_padded(const at::Tensor& image, int64_t padding, int64_t top, int64_t left) {
  check_image("crop_padded", image);
  if (padding < 0 || top < 0 || top > 2 * padding || left < 0 || left > 2 * padding) {
    throw BitLabError(absl::StrCat("crop_padded: padding ", padding, ", top ", top, ", left ", left,
                                   ": expected padding >= 0 and top, left in [0, ", 2 * padding,
                                   "]"));
  }
  const int64_t height = image.size(1);
  const int64_t width = image.size(2);
  // The shift of the content: out[y] = image[y - shift_y].
  const int64_t shift_y = padding - top;
  const int64_t shift_x = padding - left;
  at::Tensor out = at::zeros_like(image, at::MemoryFormat::Contiguous);
  // The rows and columns of `out` that the image still covers.
  const int64_t y0 = std::max<int64_t>(0, shift_y), y1 = std::min(height, height + shift_y);
  const int64_t x0 = std::max<int64_t>(0, shift_x), x1 = std::min(width, width + shift_x);
  if (y0 < y1 && x0 < x1) {
    out.slice(1, y0, y1).slice(2, x0, x1).copy_(
        image.slice(1, y0 - shift_y, y1 - shift_y).slice(2, x0 - shift_x, x1 - shift_x));
  }
  return out;
}

at::Tensor flip_horizontal(const at::Tensor& image) {
  check_image("flip_horizontal", image);
  return at::flip(image, {2});
}

at::Tensor apply_augmentation(const at::Tensor& image, const AugmentOptions& options,
                              const AugmentDraw& draw) {
  at::Tensor out = image;
  if (options.crop_padding > 0) {
    out = crop_padded(out, options.crop_padding, draw.crop_top, draw.crop_left);
  }
  if (options.horizontal_flip && draw.flip) out = flip_horizontal(out);
  return out;
}

at::Tensor normalize(const at::Tensor& image, const at::Tensor& mean, const at::Tensor& stddev) {
  check_image("normalize", image);
  const int64_t channels = image.size(0);
  if (mean.dim() != 1 || stddev.dim() != 1 || mean.size(0) != channels ||
      stddev.size(0) != channels) {
    throw ShapeError(absl::StrCat("normalize: mean is [", absl::StrJoin(mean.sizes(), ", "),
                                  "] and stddev [", absl::StrJoin(stddev.sizes(), ", "),
                                  "], expected [", channels, "] each (one value per channel)"));
  }
  return (image - mean.view({channels, 1, 1})) / stddev.view({channels, 1, 1});
}

}  // namespace trainer
}  // namespace bitlab
