#include "bitcore/kernels/arm/blocked_t2c8_packing.h"

#include "bitcore/kernels/ternary_packing.h"

namespace bitlab {
namespace internal {

void pack_blocked_t2c8(const uint8_t* t2, int64_t n, int64_t k, uint8_t* packed) {
  const int64_t row_bytes = t2_row_bytes(k);
  const int64_t k_blocks = (k + kT2c8K - 1) / kT2c8K;
  const int64_t n_blocks = (n + kT2c8Columns - 1) / kT2c8Columns;
  uint8_t* out = packed;
  for (int64_t nb = 0; nb < n_blocks; ++nb) {
    for (int64_t kb = 0; kb < k_blocks; ++kb) {
      for (int64_t j = 0; j < kT2c8Columns; ++j) {  // byte 8 * j + p: pair j / 2, column j % 2
        const int64_t col = nb * kT2c8Columns + j;
        for (int64_t p = 0; p < 8; ++p) {
          unsigned byte = 0;
          for (int64_t s = 0; s < 4; ++s) {
            const int64_t kk = kb * kT2c8K + 8 * s + p;
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
