#include "trainer/data/test_files.h"

#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include <zlib.h>

namespace bitlab {
namespace trainer {
namespace testdata {

// TempDir() ends with a slash.
std::string temp_path(const std::string& name) { return ::testing::TempDir() + name; }

void write_file(const std::string& path, const std::string& bytes, bool gzip) {
  if (gzip) {
    gzFile file = gzopen(path.c_str(), "wb");
    if (file == nullptr) throw std::runtime_error("gzopen failed: " + path);
    const int written = bytes.empty() ? 0 : gzwrite(file, bytes.data(), bytes.size());
    if (gzclose(file) != Z_OK || written != static_cast<int>(bytes.size())) {
      throw std::runtime_error("gzwrite failed: " + path);
    }
    return;
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("write failed: " + path);
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string idx_bytes(uint32_t magic, const std::vector<uint32_t>& dims, const std::string& data) {
  std::string bytes;
  auto put = [&bytes](uint32_t value) {
    for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back(static_cast<char>(value >> shift));
  };
  put(magic);
  for (uint32_t dim : dims) put(dim);
  return bytes + data;
}

std::string ramp(size_t count, int first) {
  std::string bytes(count, '\0');
  for (size_t i = 0; i < count; ++i) bytes[i] = static_cast<char>((first + i) & 0xff);
  return bytes;
}

std::string cifar_record(const std::vector<uint8_t>& label_bytes, int pixel_start) {
  return std::string(label_bytes.begin(), label_bytes.end()) + ramp(3072, pixel_start);
}

}  // namespace testdata
}  // namespace trainer
}  // namespace bitlab
