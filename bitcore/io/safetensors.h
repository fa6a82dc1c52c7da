// safetensors files: the tensor container that Hugging Face's `safetensors` package and most
// model hubs read. Layout: an 8-byte little-endian header length N, N bytes of JSON
// ({name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {string: string}}),
// then the raw little-endian tensor bytes, offsets relative to the end of the header.
//
// Files are written atomically (atomic_file.h). Reading validates everything before any tensor
// is built, and a bad file is a BitLabError that names the file and, where there is one, the
// tensor: truncation, a header length past the end, bad JSON, an unknown dtype, a shape whose
// size does not match its byte range, overlapping or uncovered byte ranges, trailing bytes.
//
// Example:
//   bitlab::save_safetensors("/out/weights.safetensors", {{"fc.weight", w}, {"fc.bias", b}},
//                            {{"format", "pt"}});
//   bitlab::SafetensorsContents contents = bitlab::load_safetensors("/out/weights.safetensors");
//   at::Tensor w2 = contents.at("fc.weight");
#ifndef BITLAB_BITCORE_IO_SAFETENSORS_H_
#define BITLAB_BITCORE_IO_SAFETENSORS_H_

#include <map>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

namespace bitlab {

struct SafetensorsContents {
  /// Tensors in the order of their byte ranges in the file.
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  std::map<std::string, std::string> metadata;

  /// The tensor named `name`; throws BitLabError listing the names there are when missing.
  const at::Tensor& at(const std::string& name) const;
  bool contains(const std::string& name) const;
};

/// Writes CPU copies of `tensors` (names unique, not empty, not "__metadata__"; dtypes float64,
/// float32, float16, bfloat16, int64, int32, int16, int8, uint8, bool) in the given order.
void save_safetensors(const std::string& path,
                      const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

/// Reads and validates a whole file.
SafetensorsContents load_safetensors(const std::string& path);

}  // namespace bitlab

#endif  // BITLAB_BITCORE_IO_SAFETENSORS_H_
