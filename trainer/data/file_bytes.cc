#include "trainer/data/file_bytes.h"

#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include <zlib.h>

#include "absl/strings/str_cat.h"
#include "bitcore/errors.h"

namespace bitlab {
namespace trainer {
namespace {

std::string read_plain(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw BitLabError(absl::StrCat(path, ": cannot open the file"));
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw BitLabError(absl::StrCat(path, ": read error"));
  return bytes;
}

// Decompresses from memory (the file is already read to look at its magic). inflate with
// 16 + MAX_WBITS takes the gzip wrapper and checks its CRC and length; a file may hold several
// gzip members one after the other (what `cat a.gz b.gz` makes), which gunzip also accepts.
std::string gunzip(const std::string& path, const std::string& compressed) {
  z_stream stream{};
  if (inflateInit2(&stream, 16 + MAX_WBITS) != Z_OK) {
    throw BitLabError(absl::StrCat(path, ": zlib: inflateInit2 failed"));
  }
  std::unique_ptr<z_stream, int (*)(z_stream*)> cleanup(&stream, &inflateEnd);
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  stream.avail_in = static_cast<uInt>(compressed.size());  // data files are far below 4 GiB
  if (compressed.size() != stream.avail_in) {
    throw BitLabError(absl::StrCat(path, ": the gzip file is larger than 4 GiB"));
  }
  std::string bytes;
  std::vector<char> chunk(1 << 20);
  while (true) {
    stream.next_out = reinterpret_cast<Bytef*>(chunk.data());
    stream.avail_out = static_cast<uInt>(chunk.size());
    const int status = inflate(&stream, Z_NO_FLUSH);
    bytes.append(chunk.data(), chunk.size() - stream.avail_out);
    if (status == Z_STREAM_END) {
      if (stream.avail_in == 0) return bytes;
      if (inflateReset(&stream) != Z_OK) {
        throw BitLabError(absl::StrCat(path, ": zlib: inflateReset failed"));
      }
      continue;
    }
    if (status == Z_OK) continue;
    // Z_BUF_ERROR with input left over cannot happen (avail_out was > 0); without input it
    // means the stream ended early.
    if (status == Z_BUF_ERROR && stream.avail_in == 0) {
      throw BitLabError(absl::StrCat(path, ": the gzip data is truncated (", compressed.size(),
                                     " compressed bytes end before the gzip stream does)"));
    }
    throw BitLabError(absl::StrCat(
        path, ": corrupt gzip data (zlib: ", stream.msg != nullptr ? stream.msg : "error", ")"));
  }
}

bool is_gzip(const std::string& bytes) {
  return bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
         static_cast<unsigned char>(bytes[1]) == 0x8b;
}

}  // namespace

FileBytes read_file_bytes(const std::string& path) {
  FileBytes file;
  file.bytes = read_plain(path);
  file.gzip = is_gzip(file.bytes);
  if (file.gzip) file.bytes = gunzip(path, file.bytes);
  return file;
}

}  // namespace trainer
}  // namespace bitlab
