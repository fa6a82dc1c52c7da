// Readers for the CIFAR binary formats (https://www.cs.toronto.edu/~kriz/cifar.html, "binary
// version"): a file is a sequence of records, each label byte(s) then 3072 pixel bytes (the
// 32 x 32 red plane, then green, then blue: channels first).
//   CIFAR-10:  1 label byte (0..9);   files data_batch_1.bin .. data_batch_5.bin, test_batch.bin.
//   CIFAR-100: 2 label bytes, coarse (0..19) then fine (0..99); files train.bin, test.bin.
//
// Every file must be a whole number (>= 1) of records and every label in range; errors are
// BitLabError naming the file, the record and the expected and found values. Files may be
// gzip-compressed.
//
// Example:
//   bitlab::trainer::ImageClassificationData data = bitlab::trainer::read_cifar(
//       {dir + "/test_batch.bin"}, bitlab::trainer::CifarFormat::kCifar10);
//   // data.images: uint8 [10000, 3, 32, 32]; data.labels: int64 [10000]
#ifndef BITLAB_TRAINER_DATA_CIFAR_READER_H_
#define BITLAB_TRAINER_DATA_CIFAR_READER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "trainer/data/image_dataset.h"

namespace bitlab {
namespace trainer {

enum class CifarFormat {
  kCifar10,
  /// CIFAR-100 with the 100 fine labels.
  kCifar100Fine,
  /// CIFAR-100 with the 20 coarse labels (superclasses).
  kCifar100Coarse,
};

inline constexpr int64_t kCifarImageBytes = 3 * 32 * 32;

/// Bytes per record: label bytes + kCifarImageBytes.
int64_t cifar_record_bytes(CifarFormat format);

/// The records of `paths`, concatenated in order: images uint8 [N, 3, 32, 32], labels int64 [N]
/// (of `format`'s kind). class_names, mean and stddev are left empty (see load_dataset in
/// datasets.h).
ImageClassificationData read_cifar(const std::vector<std::string>& paths, CifarFormat format);

}  // namespace trainer
}  // namespace bitlab

#endif  // BITLAB_TRAINER_DATA_CIFAR_READER_H_
