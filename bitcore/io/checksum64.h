// checksum64: a fast, non-cryptographic 64-bit checksum for detecting corrupt bytes (a flipped
// bit, a torn write, a truncated copy) where SHA-256 would cost too much, e.g. on every load of
// a deploy file. Four independent multiply-rotate lanes over 8-byte words, folded together
// with the length and the tail bytes; about 20x faster than bitcore/io/sha256 here. It is not
// a defence against deliberate tampering: files that must resist that carry SHA-256 too.
#ifndef BITLAB_BITCORE_IO_CHECKSUM64_H_
#define BITLAB_BITCORE_IO_CHECKSUM64_H_

#include <cstddef>
#include <cstdint>

namespace bitlab {

/// The checksum of `size` bytes at `data` (any alignment).
uint64_t checksum64(const void* data, size_t size);

}  // namespace bitlab

#endif  // BITLAB_BITCORE_IO_CHECKSUM64_H_
