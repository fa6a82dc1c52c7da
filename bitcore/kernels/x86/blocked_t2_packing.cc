#include "bitcore/kernels/x86/blocked_t2_packing.h"

#include "bitcore/kernels/ternary_packing.h"

namespace bitlab {
namespace internal {

void pack_blocked_t2(const uint8_t* t2, int64_t n, int64_t k, int64_t nr, uint8_t* packed) {
  const int64_t row_bytes = t2_row_bytes(k);
  const int64_t k_blocks = blocked_t2_padded_k(k) / 16;
  const int64_t n_blocks = (n + nr - 1) / nr;
  uint8_t* out = packed;
  for (int64_t nb = 0; nb < n_blocks; ++nb) {
    for (int64_t kb = 0; kb < k_blocks; ++kb) {
      for (int64_t j = 0; j < nr; ++j) {
        const int64_t col = nb * nr + j;
        for (int64_t p = 0; p < 4; ++p) {
          unsigned byte = 0;
          for (int64_t s = 0; s < 4; ++s) {
            const int64_t kk = kb * 16 + 4 * s + p;
            const int code = col < n && kk < k ? t2_weight(t2 + col * row_bytes, kk) + 1 : 1;
            byte |= static_cast<unsigned>(code) << (2 * s);
          }
          *out++ = static_cast<uint8_t>(byte);
        }
      }
    }
  }
}

}  // namespace internal
}  // namespace bitlab
