#include "trainer/data/idx_reader.h"

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <ATen/ops/empty.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bitcore/errors.h"
#include "trainer/data/file_bytes.h"

namespace bitlab {
namespace trainer {
namespace {

uint32_t big_endian_u32(const std::string& bytes, size_t offset) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data()) + offset;
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

// Reads an IDX file of uint8 data with `magic` (whose low byte is the number of dimensions).
at::Tensor read_idx(const std::string& path, uint32_t magic, const char* what) {
  const FileBytes file = read_file_bytes(path);
  const std::string& bytes = file.bytes;
  // For messages: the sizes are those of the decompressed data.
  const std::string gz = file.gzip ? " (after gzip decompression)" : "";
  const size_t dims = magic & 0xff;
  const size_t header_bytes = 4 + 4 * dims;
  if (bytes.size() < 4) {
    throw BitLabError(absl::StrCat(path, ": ", bytes.size(), " bytes", gz,
                                   ", too short for an IDX header (", header_bytes, " bytes)"));
  }
  const uint32_t found = big_endian_u32(bytes, 0);
  if (found != magic) {
    throw BitLabError(absl::StrCat(path, ": IDX magic number is 0x",
                                   absl::Hex(found, absl::kZeroPad8), ", expected 0x",
                                   absl::Hex(magic, absl::kZeroPad8), " (", what, ")"));
  }
  if (bytes.size() < header_bytes) {
    throw BitLabError(absl::StrCat(path, ": ", bytes.size(), " bytes", gz,
                                   ", too short for the IDX header (", header_bytes,
                                   " bytes); the file is truncated"));
  }
  std::vector<int64_t> shape;
  uint64_t data_bytes = 1;
  for (size_t d = 0; d < dims; ++d) {
    const uint32_t size = big_endian_u32(bytes, 4 + 4 * d);
    // Sample counts may be 0; an image row or column may not.
    if (d > 0 && size == 0) {
      throw BitLabError(
          absl::StrCat(path, ": IDX dimension ", d, " is 0, expected >= 1 (", what, ")"));
    }
    shape.push_back(size);
    if (__builtin_mul_overflow(data_bytes, uint64_t{size}, &data_bytes)) {
      throw BitLabError(absl::StrCat(path, ": the IDX dimensions [", absl::StrJoin(shape, ", "),
                                     "...] overflow 64 bits"));
    }
  }
  const uint64_t got = bytes.size() - header_bytes;
  if (got != data_bytes) {
    throw BitLabError(absl::StrCat(
        path, ": the IDX header says [", absl::StrJoin(shape, ", "), "], ", data_bytes,
        " data bytes after the ", header_bytes, "-byte header, but the file has ", got, gz,
        got < data_bytes ? "; the file is truncated" : "; trailing bytes after the data"));
  }
  at::Tensor tensor = at::empty(shape, at::kByte);
  if (data_bytes > 0)
    std::memcpy(tensor.data_ptr<uint8_t>(), bytes.data() + header_bytes, data_bytes);
  return tensor;
}

}  // namespace

at::Tensor read_idx_images(const std::string& path) {
  return read_idx(path, kIdxImagesMagic, "uint8 images [N, rows, cols]");
}

at::Tensor read_idx_labels(const std::string& path) {
  return read_idx(path, kIdxLabelsMagic, "uint8 labels [N]");
}

ImageClassificationData read_idx_dataset(const std::string& images_path,
                                         const std::string& labels_path) {
  ImageClassificationData data;
  const at::Tensor images = read_idx_images(images_path);
  const at::Tensor labels = read_idx_labels(labels_path);
  if (images.size(0) != labels.size(0)) {
    throw BitLabError(absl::StrCat(images_path, " holds ", images.size(0), " images but ",
                                   labels_path, " holds ", labels.size(0),
                                   " labels; expected one label per image"));
  }
  data.images = images.unsqueeze(1);
  data.labels = labels.to(at::kLong);
  return data;
}

}  // namespace trainer
}  // namespace bitlab
