// The weight layout of BitLab's CUDA kernels, and its packing from canonical t2. Plain C++:
// packing runs on the host (weights are prepared once), and CI tests it without a GPU.
//
// Why its own layout: the kernels multiply int8 activations by weight *codes* (q + 1, in
// {0, 1, 2}) with dp4a or int8 tensor-core mma and subtract the activation row sum afterwards
// (sum_k x*(q+1) - sum_k x = sum_k x*q). A code must therefore land in the byte of a 32-bit
// register that holds the activation it multiplies, after one shift and one mask. So:
//   - rows (output channels) of K rounded up to kCudaKAlign weights, padding code 1 (zero);
//   - each 32-bit little-endian word holds 16 consecutive weights k0 .. k0+15 (k0 = 16 * word):
//     weight k0 + 4*j + i sits in byte i, bits 2j .. 2j+1.
// Then `(word >> 2*j) & 0x03030303` is the four codes of weights k0+4j .. k0+4j+3, one per
// byte, matching the int8 activations x[k0+4j .. k0+4j+3] read as one 32-bit word. For the
// tensor-core path, the m16n8k32 B fragment of thread (group g, lane-in-group t) is exactly
// word 0 and word 1 of a 32-weight step shifted by 2t.
//
// The size functions are constexpr so device code can call them too (nvcc
// --expt-relaxed-constexpr).
//
// Activations for these kernels are int8 rows of cuda_padded_k(K) bytes with zero padding, so
// the padding weights (code 1) multiply zeros; quantize_activations writes them that way.
#ifndef BITLAB_BITCORE_KERNELS_CUDA_CUDA_WEIGHT_LAYOUT_H_
#define BITLAB_BITCORE_KERNELS_CUDA_CUDA_WEIGHT_LAYOUT_H_

#include <cstdint>

namespace bitlab {
namespace cuda {

/// K is padded to a multiple of this many weights (one tensor-core k-tile: 128 int8 bytes of
/// activations, 32 bytes of weights per row).
inline constexpr int64_t kCudaKAlign = 128;

/// K rounded up to kCudaKAlign: the row length of activations and weights in the kernels.
constexpr int64_t cuda_padded_k(int64_t k) {
  return (k + kCudaKAlign - 1) / kCudaKAlign * kCudaKAlign;
}
/// Bytes of one packed weight row.
constexpr int64_t cuda_weight_row_bytes(int64_t k) { return cuda_padded_k(k) / 4; }
/// Bytes of n packed weight rows.
constexpr int64_t cuda_packed_weight_bytes(int64_t n, int64_t k) {
  return n * cuda_weight_row_bytes(k);
}

/// Repacks n rows of canonical t2 weights (t2_row_bytes(k) bytes each) into the CUDA layout
/// (cuda_packed_weight_bytes(n, k) bytes). Host memory on both sides.
void pack_cuda_weights(const uint8_t* t2, int64_t n, int64_t k, uint8_t* packed);

}  // namespace cuda
}  // namespace bitlab

#endif  // BITLAB_BITCORE_KERNELS_CUDA_CUDA_WEIGHT_LAYOUT_H_
