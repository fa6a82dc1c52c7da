#include "bitcore/kernels/x86/blocked_t1_packing.h"

#include "bitcore/kernels/ternary_packing.h"

namespace bitlab {
namespace internal {

void pack_blocked_t1(const uint8_t* t2, int64_t n, int64_t k, uint8_t* packed) {
  const int64_t row_bytes = t2_row_bytes(k);
  const int64_t k_blocks = blocked_t1_padded_k(k) / 20;
  const int64_t n_blocks = (n + 15) / 16;
  uint8_t* out = packed;
  for (int64_t nb = 0; nb < n_blocks; ++nb) {
    for (int64_t kb = 0; kb < k_blocks; ++kb) {
      for (int64_t j = 0; j < 16; ++j) {
        const int64_t col = nb * 16 + j;
        for (int64_t p = 0; p < 4; ++p) {
          int byte = 0;
          int power = 1;
          for (int64_t i = 0; i < 5; ++i) {
            const int64_t kk = kb * 20 + 4 * i + p;
            const int code = col < n && kk < k ? t2_weight(t2 + col * row_bytes, kk) + 1 : 1;
            byte += code * power;
            power *= 3;
          }
          *out++ = static_cast<uint8_t>(byte);
        }
      }
    }
  }
}

}  // namespace internal
}  // namespace bitlab
