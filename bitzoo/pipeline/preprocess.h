// preprocess_image: a decoded image to the float batch an image model takes, as its config's
// ImageInput (bitmodels/auto_bit_config.h) describes.
//
// Steps, in order: convert the channels (RGB -> gray with the ITU-R 601 luma weights
// 0.299 R + 0.587 G + 0.114 B; gray -> RGB by repeating), resize bilinearly (align_corners
// false, as torchvision's Resize) to height x width, scale to [0, 1], then normalize each channel
// c as (x - mean[c]) / std[c].
//
// Example:
//   bitlab::ImageInput input;   // RGB 224 x 224, ImageNet mean and std
//   torch::Tensor image = bitlab::bitzoo::decode_image_file("cat.png").pixels;
//   torch::Tensor batch = bitlab::bitzoo::preprocess_image(image, input);   // [1, 3, 224, 224]
#ifndef BITLAB_BITZOO_PIPELINE_PREPROCESS_H_
#define BITLAB_BITZOO_PIPELINE_PREPROCESS_H_

#include <ATen/core/Tensor.h>

#include "bitmodels/auto_bit_config.h"

namespace bitlab {
namespace bitzoo {

/// uint8 [H, W, C] (C = 1 or 3) -> float32 [1, input.channels, input.height, input.width].
/// Throws ShapeError for another image tensor, BitLabError for an invalid `input` (channels
/// not 1 or 3, a size < 1, mean or std not one value per channel, a std <= 0).
at::Tensor preprocess_image(const at::Tensor& image, const ImageInput& input);

}  // namespace bitzoo
}  // namespace bitlab

#endif  // BITLAB_BITZOO_PIPELINE_PREPROCESS_H_
