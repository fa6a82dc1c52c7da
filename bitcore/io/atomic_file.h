// Writing files so that a crash never leaves a half-written one behind: the bytes go to a
// temporary file beside the target, are flushed to the disk (fsync), and the temporary file is
// renamed over the target, which POSIX makes atomic; the directory is then synced so the rename
// itself survives a power loss. Readers see the old file or the new one, never a mix.
//
// Example:
//   std::string header = ...;
//   bitlab::write_file_atomically("/out/model.safetensors",
//                                 {{header.data(), header.size()}, {data, bytes}});
#ifndef BITLAB_BITCORE_IO_ATOMIC_FILE_H_
#define BITLAB_BITCORE_IO_ATOMIC_FILE_H_

#include <cstddef>
#include <string>
#include <vector>

namespace bitlab {

/// Bytes to write, not owned.
struct ByteSpan {
  const void* data = nullptr;
  size_t size = 0;
};

/// Writes the pieces, in order, as the new contents of `path`. Throws BitLabError naming the
/// file and the system's reason on any failure, after removing the temporary file.
void write_file_atomically(const std::string& path, const std::vector<ByteSpan>& pieces);

/// Creates the directory `path` and any missing parents (mkdir -p). Throws BitLabError naming
/// the directory that could not be created and why.
void make_directories(const std::string& path);

}  // namespace bitlab

#endif  // BITLAB_BITCORE_IO_ATOMIC_FILE_H_
