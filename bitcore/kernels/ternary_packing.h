// Canonical packed ternary weights: the `t2` and `t1` formats that files store.
//
// Why two: `t2` (2 bits a weight) decodes with a shift and a mask, so every kernel can read it
// or repack it cheaply; `t1` (base 3, five trits a byte, 1.6 bits a weight since 3^5 = 243 <=
// 256) is 20% smaller, for the smallest files and for bandwidth-bound kernels that can afford
// the decode.
//
// Both store a ternary value q in {-1, 0, +1} as the code q + 1 in {0, 1, 2}, row by row (a row
// is one output channel, K weights), each row starting on a fresh byte:
//   t2: four codes a byte, weight k in bits 2*(k%4) .. 2*(k%4)+1 of byte k/4 (lowest bits
//       first); rows of ceil(K/4) bytes; padding code 1 (zero weight), so padding bytes decode
//       to zeros and a kernel may run over them.
//   t1: five codes a byte, byte value sum_i code_i * 3^i for weights 5j .. 5j+4 of byte j;
//       rows of ceil(K/5) bytes; padding code 1.
//
// Example:
//   std::vector<uint8_t> packed(bitlab::t2_packed_bytes(n, k));
//   bitlab::pack_t2(q.data(), n, k, packed.data());
//
// Raw pointers, no libtorch: kernels use these to repack weights into their own layouts.
#ifndef BITLAB_BITCORE_KERNELS_TERNARY_PACKING_H_
#define BITLAB_BITCORE_KERNELS_TERNARY_PACKING_H_

#include <cstddef>
#include <cstdint>

namespace bitlab {

/// Bytes in one packed row of `k` weights.
inline int64_t t2_row_bytes(int64_t k) { return (k + 3) / 4; }
inline int64_t t1_row_bytes(int64_t k) { return (k + 4) / 5; }

/// Bytes for `n` packed rows of `k` weights.
inline int64_t t2_packed_bytes(int64_t n, int64_t k) { return n * t2_row_bytes(k); }
inline int64_t t1_packed_bytes(int64_t n, int64_t k) { return n * t1_row_bytes(k); }

/// Packs `n` rows of `k` ternary values (each in {-1, 0, 1}) from `q` (row-major, n x k).
/// Returns false, writing nothing meaningful, if a value is outside {-1, 0, 1}; `bad_index`
/// (if not null) receives the flat index of the first bad value.
bool pack_t2(const int8_t* q, int64_t n, int64_t k, uint8_t* packed, int64_t* bad_index = nullptr);
bool pack_t1(const int8_t* q, int64_t n, int64_t k, uint8_t* packed, int64_t* bad_index = nullptr);

/// Unpacks to `n` x `k` values in {-1, 0, 1}. Returns false if a code is invalid (t2 code 3,
/// t1 byte above 242); `bad_index` (if not null) receives the flat index of the bad byte.
bool unpack_t2(const uint8_t* packed, int64_t n, int64_t k, int8_t* q,
               int64_t* bad_index = nullptr);
bool unpack_t1(const uint8_t* packed, int64_t n, int64_t k, int8_t* q,
               int64_t* bad_index = nullptr);

/// The ternary value of weight `k` in a t2 row (no validity check: code 3 reads as +2).
inline int t2_weight(const uint8_t* row, int64_t k) {
  return ((row[k >> 2] >> ((k & 3) * 2)) & 3) - 1;
}

}  // namespace bitlab

#endif  // BITLAB_BITCORE_KERNELS_TERNARY_PACKING_H_
