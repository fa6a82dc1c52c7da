// read_file_bytes: a whole data file in memory, gunzipped when it is gzip-compressed.
//
// Data sets ship both ways (Debian's dataset-fashion-mnist installs .gz files, other mirrors
// unpack them), so the readers accept either and tell them apart by the gzip magic bytes 1f 8b,
// not by the file name.
//
// Example:
//   std::string bytes = bitlab::trainer::read_file_bytes("t10k-labels-idx1-ubyte.gz").bytes;
#ifndef BITLAB_TRAINER_DATA_FILE_BYTES_H_
#define BITLAB_TRAINER_DATA_FILE_BYTES_H_

#include <string>

namespace bitlab {
namespace trainer {

struct FileBytes {
  /// The contents, decompressed.
  std::string bytes;
  /// Whether the file was gzip-compressed (for messages: sizes are of the decompressed data).
  bool gzip = false;
};

/// The contents of `path`, decompressed when the file starts with the gzip magic. Throws
/// BitLabError naming the file when it cannot be opened or read, or when its gzip stream is
/// corrupt or truncated.
FileBytes read_file_bytes(const std::string& path);

}  // namespace trainer
}  // namespace bitlab

#endif  // BITLAB_TRAINER_DATA_FILE_BYTES_H_
