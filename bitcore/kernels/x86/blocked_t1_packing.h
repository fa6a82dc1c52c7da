// The blocked 1.6-bit layout of the AVX512-VNNI t1 kernel ("t1 blocked by 16 x 20").
//
// Why: at batch 1 a product reads each weight once, so once the weights no longer fit in the
// caches its speed is the memory bandwidth divided by the bytes per weight; base-3 packing (five
// weights a byte) reads 20% fewer bytes than 2-bit packing, at the price of a table lookup per
// weight to decode.
//
// Layout: output columns in blocks of 16, K in blocks of 20 (five groups of 4); one block is 64
// bytes. Byte `4 * j + p` of block (nb, kb) holds sum_i code_i * 3^i over i = 0..4, where code_i
// is the code (q + 1) of column nb * 16 + j at k = kb * 20 + 4 * i + p. Decoding trit i of every
// byte gives, lane by lane, the 4 codes of k group i, ready for vpdpbusd with the 4 activations
// x[kb * 20 + 4i .. + 3]. Columns past N and k past K hold code 1 (a zero weight).
#ifndef BITLAB_BITCORE_KERNELS_X86_BLOCKED_T1_PACKING_H_
#define BITLAB_BITCORE_KERNELS_X86_BLOCKED_T1_PACKING_H_

#include <cstdint>

namespace bitlab {
namespace internal {

/// K rounded up to a multiple of 20.
inline int64_t blocked_t1_padded_k(int64_t k) { return (k + 19) / 20 * 20; }

/// Bytes of the blocked t1 layout for n x k weights (16 columns a block).
inline int64_t blocked_t1_bytes(int64_t n, int64_t k) {
  return (n + 15) / 16 * blocked_t1_padded_k(k) / 20 * 64;
}

/// Repacks canonical t2 (n rows of ceil(k/4) bytes) into the blocked t1 layout.
void pack_blocked_t1(const uint8_t* t2, int64_t n, int64_t k, uint8_t* packed);

}  // namespace internal
}  // namespace bitlab

#endif  // BITLAB_BITCORE_KERNELS_X86_BLOCKED_T1_PACKING_H_
