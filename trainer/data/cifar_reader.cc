#include "trainer/data/cifar_reader.h"

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <ATen/ops/empty.h>

#include "absl/strings/str_cat.h"
#include "bitcore/errors.h"
#include "trainer/data/file_bytes.h"

namespace bitlab {
namespace trainer {
namespace {

struct LabelByte {
  const char* name;
  int64_t classes;
};

// The label bytes at the start of each record, in file order.
std::vector<LabelByte> label_bytes(CifarFormat format) {
  switch (format) {
    case CifarFormat::kCifar10:
      return {{"label", 10}};
    case CifarFormat::kCifar100Fine:
    case CifarFormat::kCifar100Coarse:
      return {{"coarse label", 20}, {"fine label", 100}};
  }
  throw BitLabError("read_cifar: unknown CifarFormat");
}

const char* format_name(CifarFormat format) {
  return format == CifarFormat::kCifar10 ? "CIFAR-10" : "CIFAR-100";
}

}  // namespace

int64_t cifar_record_bytes(CifarFormat format) {
  return static_cast<int64_t>(label_bytes(format).size()) + kCifarImageBytes;
}

ImageClassificationData read_cifar(const std::vector<std::string>& paths, CifarFormat format) {
  if (paths.empty()) throw BitLabError("read_cifar: no files given");
  const std::vector<LabelByte> labels_in_record = label_bytes(format);
  const int64_t record_bytes = cifar_record_bytes(format);
  // Which label byte becomes the label: CIFAR-100 records hold coarse then fine.
  const size_t kept_label = format == CifarFormat::kCifar100Fine ? 1 : 0;

  std::vector<FileBytes> files;
  int64_t records = 0;
  for (const std::string& path : paths) {
    files.push_back(read_file_bytes(path));
    const auto size = static_cast<int64_t>(files.back().bytes.size());
    if (size == 0 || size % record_bytes != 0) {
      throw BitLabError(absl::StrCat(
          path, ": ", size, " bytes", files.back().gzip ? " (after gzip decompression)" : "",
          ", expected a whole number (>= 1) of ", format_name(format), " records of ", record_bytes,
          " bytes (", labels_in_record.size(), " label byte(s) + ", kCifarImageBytes, " pixels)"));
    }
    records += size / record_bytes;
  }

  ImageClassificationData data;
  data.images = at::empty({records, 3, 32, 32}, at::kByte);
  data.labels = at::empty({records}, at::kLong);
  uint8_t* image = data.images.data_ptr<uint8_t>();
  int64_t* label = data.labels.data_ptr<int64_t>();
  for (size_t f = 0; f < files.size(); ++f) {
    const auto* bytes = reinterpret_cast<const uint8_t*>(files[f].bytes.data());
    const auto file_records = static_cast<int64_t>(files[f].bytes.size()) / record_bytes;
    for (int64_t r = 0; r < file_records; ++r) {
      const uint8_t* record = bytes + r * record_bytes;
      for (size_t b = 0; b < labels_in_record.size(); ++b) {
        if (record[b] >= labels_in_record[b].classes) {
          throw BitLabError(absl::StrCat(paths[f], ": record ", r, " (byte offset ",
                                         r * record_bytes + static_cast<int64_t>(b), ") has ",
                                         labels_in_record[b].name, " ", int{record[b]},
                                         ", expected 0..", labels_in_record[b].classes - 1, " (",
                                         format_name(format), ")"));
        }
      }
      *label++ = record[kept_label];
      std::memcpy(image, record + labels_in_record.size(), kCifarImageBytes);
      image += kCifarImageBytes;
    }
  }
  return data;
}

}  // namespace trainer
}  // namespace bitlab
