// The 2-bit layout the ARM i8mm kernel reads ("t2 blocked by 8 x 32, c8").
//
// Why: smmla (vmmlaq_s32) multiplies a 2 x 8 int8 matrix (two rows of activations, 8
// consecutive k each) by an 8 x 2 one (two weight columns, the same 8 k) into a 2 x 2 int32
// tile. So one 16-byte weight register should hold 8 consecutive k of each of 2 columns, and,
// as in the x86 layout (bitcore/kernels/x86/blocked_t2_packing.h, which the NEON and dot
// product kernels read with 8 columns a block), the 2-bit codes of four such k groups share
// each byte, so one load and a mask give a register.
//
// Layout: columns in blocks of 8, K in blocks of 32; a block is 64 bytes, four 16-byte column
// pairs. Byte 16 * pair + 8 * j + p of block (nb, kb) holds the codes (q + 1) of column
// nb * 8 + 2 * pair + j at k = kb * 32 + 8 * s + p in bits 2s..2s+1, for s = 0..3. Blocks run
// k-fastest within a column block. Columns past N and k past K hold code 1 (a zero weight).
//
// Plain C++ with no ISA flags: packing runs once when weights are prepared.
#ifndef BITLAB_BITCORE_KERNELS_ARM_BLOCKED_T2C8_PACKING_H_
#define BITLAB_BITCORE_KERNELS_ARM_BLOCKED_T2C8_PACKING_H_

#include <cstdint>

namespace bitlab {
namespace internal {

/// Columns a block and k a block of the c8 layout.
inline constexpr int64_t kT2c8Columns = 8;
inline constexpr int64_t kT2c8K = 32;

/// Bytes of the c8 layout for n x k weights.
inline int64_t blocked_t2c8_bytes(int64_t n, int64_t k) {
  return (n + kT2c8Columns - 1) / kT2c8Columns * kT2c8Columns * ((k + kT2c8K - 1) / kT2c8K) *
         kT2c8K / 4;
}

/// Repacks canonical t2 (n rows of ceil(k/4) bytes) into the c8 layout.
void pack_blocked_t2c8(const uint8_t* t2, int64_t n, int64_t k, uint8_t* packed);

}  // namespace internal
}  // namespace bitlab

#endif  // BITLAB_BITCORE_KERNELS_ARM_BLOCKED_T2C8_PACKING_H_
