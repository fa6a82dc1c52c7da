// SHA-256 (FIPS 180-4), for the checksums of weight manifests and checkpoints: files are
// verified before they are trusted, and a mismatch is an error that names the file.
//
// Example:
//   bitlab::Sha256 hash;
//   hash.update(data, size);
//   std::string hex = bitlab::to_hex(hash.finish());   // 64 lowercase hex digits
//   std::string file_hex = bitlab::sha256_file_hex("/path/model.safetensors");
#ifndef BITLAB_BITCORE_IO_SHA256_H_
#define BITLAB_BITCORE_IO_SHA256_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace bitlab {

using Sha256Digest = std::array<uint8_t, 32>;

/// Incremental SHA-256: update() any number of times, then finish() once.
class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t size);
  /// The digest of everything passed to update(). The object must not be used afterwards.
  Sha256Digest finish();

 private:
  void compress(const uint8_t* block);

  uint32_t state_[8];
  uint8_t buffer_[64];
  size_t buffered_ = 0;
  uint64_t total_bytes_ = 0;
};

/// Lowercase hexadecimal, two digits a byte.
std::string to_hex(const Sha256Digest& digest);

/// The SHA-256 of `size` bytes, as hex.
std::string sha256_hex(const void* data, size_t size);

/// The SHA-256 of a file's contents, as hex, read in blocks. Throws BitLabError naming the
/// file when it cannot be opened or read.
std::string sha256_file_hex(const std::string& path);

}  // namespace bitlab

#endif  // BITLAB_BITCORE_IO_SHA256_H_
