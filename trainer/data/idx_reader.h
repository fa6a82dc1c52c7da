// Readers for IDX files, the format of MNIST and Fashion-MNIST: a big-endian header (magic
// 0x00000803 for uint8 images [N, rows, cols], 0x00000801 for uint8 labels [N], then one
// uint32 per dimension) followed by the raw bytes. Files may be plain or gzip-compressed
// (detected by the magic bytes 1f 8b, not the name).
//
// Everything is checked: the magic, the dimensions, the data size against the header (a
// truncated file or trailing bytes), and the image count against the label count. Errors are
// BitLabError naming the file, what was expected and what was found.
//
// Example:
//   bitlab::trainer::ImageClassificationData data = bitlab::trainer::read_idx_dataset(
//       "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz",
//       "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz");
//   // data.images: uint8 [10000, 1, 28, 28]; data.labels: int64 [10000]
#ifndef BITLAB_TRAINER_DATA_IDX_READER_H_
#define BITLAB_TRAINER_DATA_IDX_READER_H_

#include <cstdint>
#include <string>

#include <ATen/core/Tensor.h>

#include "trainer/data/image_dataset.h"

namespace bitlab {
namespace trainer {

inline constexpr uint32_t kIdxImagesMagic = 0x00000803;
inline constexpr uint32_t kIdxLabelsMagic = 0x00000801;

/// uint8 [N, rows, cols] from an IDX image file.
at::Tensor read_idx_images(const std::string& path);

/// uint8 [N] from an IDX label file.
at::Tensor read_idx_labels(const std::string& path);

/// Both files, checked to hold the same number of samples: images uint8 [N, 1, rows, cols],
/// labels int64 [N]. class_names, mean and stddev are left empty (the files do not say; see
/// load_dataset in datasets.h), and so are not checked against the labels yet.
ImageClassificationData read_idx_dataset(const std::string& images_path,
                                         const std::string& labels_path);

}  // namespace trainer
}  // namespace bitlab

#endif  // BITLAB_TRAINER_DATA_IDX_READER_H_
