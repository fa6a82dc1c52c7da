// Image files in and out of uint8 [H, W, C] tensors (C = 1: gray, 3: RGB), for
// bitzoo::Pipeline and the tools that feed it.
//
// Reads PNG (every color type and bit depth, through libpng) and binary PGM (P5) / PPM (P6),
// told apart by their magic bytes, never by the extension. Everything becomes 8-bit gray or
// RGB: 16-bit samples and PNM maxvals other than 255 are rescaled to 0..255, palettes are
// expanded and alpha is dropped. Writes 8-bit PNG.
//
// Example:
//   bitlab::bitzoo::DecodedImage image = bitlab::bitzoo::decode_image_file("cat.png");
//   image.pixels.sizes();   // [H, W, 3] uint8
//   bitlab::bitzoo::write_png("/tmp/copy.png", image.pixels);
#ifndef BITLAB_BITZOO_PIPELINE_IMAGE_IO_H_
#define BITLAB_BITZOO_PIPELINE_IMAGE_IO_H_

#include <string>

#include <ATen/core/Tensor.h>

namespace bitlab {
namespace bitzoo {

enum class ImageFormat { kPng, kPgm, kPpm };

struct DecodedImage {
  /// uint8 [H, W, C], C = 1 (gray) or 3 (RGB), contiguous.
  at::Tensor pixels;
  /// What the file was.
  ImageFormat format = ImageFormat::kPng;
};

/// Reads a PNG, PGM (P5) or PPM (P6) file. A missing, unreadable, truncated or corrupt file, an
/// unknown format or a zero size throws BitLabError naming the file and what is wrong.
DecodedImage decode_image_file(const std::string& path);

/// Throws ShapeError naming `function` unless `pixels` is a non-empty uint8 [H, W, C] tensor
/// with C = 1 or 3: what decode_image_file returns and write_png and preprocess_image take.
void check_image_pixels(const char* function, const at::Tensor& pixels);

/// Writes uint8 [H, W, C] pixels (C = 1: gray, 3: RGB) as an 8-bit PNG, atomically (see
/// bitcore/io/atomic_file.h). Throws ShapeError for other tensors, BitLabError naming the file
/// when it cannot be written.
void write_png(const std::string& path, const at::Tensor& pixels);

}  // namespace bitzoo
}  // namespace bitlab

#endif  // BITLAB_BITZOO_PIPELINE_IMAGE_IO_H_
