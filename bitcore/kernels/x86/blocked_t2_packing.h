// The blocked 2-bit layout the x86 integer kernels read ("t2 blocked by NR x 16").
//
// Why: the dot-product instructions (vpdpbusd on AVX512-VNNI, vpmaddubsw on AVX2) multiply
// groups of 4 consecutive bytes of a weight register with 4 bytes of activations and sum them
// into one 32-bit lane, one lane per output column. So a register should hold, for NR output
// columns, 4 consecutive k each, and the 2-bit codes should come out of one load with a mask.
//
// Layout: output columns in blocks of NR (16 for AVX-512, 8 for AVX2), K in blocks of 16; one
// block is NR * 4 bytes. Byte `4 * j + p` of block (nb, kb) holds the codes (q + 1) of column
// nb * NR + j at k = kb * 16 + 4 * s + p in bits 2s..2s+1, for s = 0..3. So masking a loaded
// block with 0x03 << 2s gives, lane by lane, the 4 codes of k group s (scaled by 4^s), ready for
// a dot product with the 4 activations x[kb * 16 + 4s .. + 3]. Blocks run k-fastest within a
// column block, so one column block's weights stream from memory in order. Columns past N and
// k past K hold code 1 (a zero weight).
//
// Plain C++ with no ISA flags: packing runs once when weights are prepared.
#ifndef BITLAB_BITCORE_KERNELS_X86_BLOCKED_T2_PACKING_H_
#define BITLAB_BITCORE_KERNELS_X86_BLOCKED_T2_PACKING_H_

#include <cstdint>

namespace bitlab {
namespace internal {

/// K rounded up to a multiple of 16.
inline int64_t blocked_t2_padded_k(int64_t k) { return (k + 15) / 16 * 16; }

/// Bytes of the blocked layout for n x k weights with `nr` columns a block.
inline int64_t blocked_t2_bytes(int64_t n, int64_t k, int64_t nr) {
  return (n + nr - 1) / nr * nr * blocked_t2_padded_k(k) / 4;
}

/// Repacks canonical t2 (n rows of ceil(k/4) bytes) into the blocked layout.
void pack_blocked_t2(const uint8_t* t2, int64_t n, int64_t k, int64_t nr, uint8_t* packed);

}  // namespace internal
}  // namespace bitlab

#endif  // BITLAB_BITCORE_KERNELS_X86_BLOCKED_T2_PACKING_H_
