#include "bitcore/kernels/cuda/cuda_weight_layout.h"

#include <cstring>

#include "bitcore/kernels/ternary_packing.h"

namespace bitlab {
namespace cuda {

void pack_cuda_weights(const uint8_t* t2, int64_t n, int64_t k, uint8_t* packed) {
  const int64_t padded_k = cuda_padded_k(k);
  const int64_t out_row_bytes = cuda_weight_row_bytes(k);
  const int64_t in_row_bytes = t2_row_bytes(k);
  for (int64_t row = 0; row < n; ++row) {
    const uint8_t* in = t2 + row * in_row_bytes;
    uint8_t* out = packed + row * out_row_bytes;
    std::memset(out, 0, out_row_bytes);
    for (int64_t kk = 0; kk < padded_k; ++kk) {
      const int code = kk < k ? (in[kk >> 2] >> ((kk & 3) * 2)) & 3 : 1;
      const int64_t word = kk / 16;
      const int j = static_cast<int>(kk % 16) / 4;  // which shift recovers it
      const int i = static_cast<int>(kk % 4);       // which byte of the word
      out[word * 4 + i] |= static_cast<uint8_t>(code << (2 * j));
    }
  }
}

}  // namespace cuda
}  // namespace bitlab
