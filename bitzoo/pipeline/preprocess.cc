#include "bitzoo/pipeline/preprocess.h"

#include <cstdint>
#include <vector>

#include <ATen/TensorOperators.h>
#include <ATen/ops/tensor.h>
#include <torch/nn/functional/upsampling.h>

#include "absl/strings/str_cat.h"
#include "bitcore/errors.h"
#include "bitzoo/pipeline/image_io.h"

namespace bitlab {
namespace bitzoo {
namespace {

// ImageInput is validated when read from a config, but a caller can also fill one in by hand.
void check_image_input(const ImageInput& input) {
  const char* where = "preprocess_image: image_input";
  if (input.channels != 1 && input.channels != 3) {
    throw BitLabError(absl::StrCat(where, ": channels is ", input.channels, ", expected 1 or 3"));
  }
  if (input.height < 1 || input.width < 1) {
    throw BitLabError(absl::StrCat(where, ": size is ", input.height, " x ", input.width,
                                   ", expected at least 1 x 1"));
  }
  if (input.mean.size() != static_cast<size_t>(input.channels) ||
      input.std.size() != static_cast<size_t>(input.channels)) {
    throw BitLabError(absl::StrCat(where, ": mean has ", input.mean.size(), " values and std ",
                                   input.std.size(), ", expected one per channel (", input.channels,
                                   ")"));
  }
  for (double s : input.std) {
    if (!(s > 0)) throw BitLabError(absl::StrCat(where, ": std value ", s, " is not > 0"));
  }
}

// [C] -> float32 [1, C, 1, 1], to broadcast over a batch of one.
at::Tensor per_channel(const std::vector<double>& values) {
  return at::tensor(values).to(at::kFloat).view({1, -1, 1, 1});
}

}  // namespace

at::Tensor preprocess_image(const at::Tensor& image, const ImageInput& input) {
  check_image_pixels("preprocess_image", image);
  check_image_input(input);
  // [1, C, H, W] in 0..255.
  at::Tensor x = image.cpu().to(at::kFloat).permute({2, 0, 1}).unsqueeze(0);
  if (x.size(1) == 3 && input.channels == 1) {
    x = (x * per_channel({0.299, 0.587, 0.114})).sum(1, /*keepdim=*/true);
  } else if (x.size(1) == 1 && input.channels == 3) {
    x = x.expand({1, 3, -1, -1});
  }
  if (x.size(2) != input.height || x.size(3) != input.width) {
    namespace F = torch::nn::functional;
    x = F::interpolate(x, F::InterpolateFuncOptions()
                              .size(std::vector<int64_t>{input.height, input.width})
                              .mode(torch::kBilinear)
                              .align_corners(false));
  }
  return ((x / 255 - per_channel(input.mean)) / per_channel(input.std)).contiguous();
}

}  // namespace bitzoo
}  // namespace bitlab
