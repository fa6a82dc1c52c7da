#include "bitcore/kernels/ternary_packing.h"

namespace bitlab {
namespace {

constexpr int kT1Pow3[5] = {1, 3, 9, 27, 81};
constexpr int kT1MaxByte = 242;  // 3^5 - 1

bool is_ternary(int8_t v) { return v >= -1 && v <= 1; }

}  // namespace

bool pack_t2(const int8_t* q, int64_t n, int64_t k, uint8_t* packed, int64_t* bad_index) {
  const int64_t row_bytes = t2_row_bytes(k);
  for (int64_t r = 0; r < n; ++r) {
    const int8_t* src = q + r * k;
    uint8_t* dst = packed + r * row_bytes;
    for (int64_t b = 0; b < row_bytes; ++b) {
      unsigned byte = 0;
      for (int j = 0; j < 4; ++j) {
        const int64_t col = b * 4 + j;
        int code = 1;  // padding: a zero weight
        if (col < k) {
          if (!is_ternary(src[col])) {
            if (bad_index != nullptr) *bad_index = r * k + col;
            return false;
          }
          code = src[col] + 1;
        }
        byte |= static_cast<unsigned>(code) << (2 * j);
      }
      dst[b] = static_cast<uint8_t>(byte);
    }
  }
  return true;
}

bool unpack_t2(const uint8_t* packed, int64_t n, int64_t k, int8_t* q, int64_t* bad_index) {
  const int64_t row_bytes = t2_row_bytes(k);
  for (int64_t r = 0; r < n; ++r) {
    const uint8_t* src = packed + r * row_bytes;
    for (int64_t col = 0; col < k; ++col) {
      const int code = (src[col >> 2] >> ((col & 3) * 2)) & 3;
      if (code == 3) {
        if (bad_index != nullptr) *bad_index = r * row_bytes + (col >> 2);
        return false;
      }
      q[r * k + col] = static_cast<int8_t>(code - 1);
    }
  }
  return true;
}

bool pack_t1(const int8_t* q, int64_t n, int64_t k, uint8_t* packed, int64_t* bad_index) {
  const int64_t row_bytes = t1_row_bytes(k);
  for (int64_t r = 0; r < n; ++r) {
    const int8_t* src = q + r * k;
    uint8_t* dst = packed + r * row_bytes;
    for (int64_t b = 0; b < row_bytes; ++b) {
      int byte = 0;
      for (int j = 0; j < 5; ++j) {
        const int64_t col = b * 5 + j;
        int code = 1;
        if (col < k) {
          if (!is_ternary(src[col])) {
            if (bad_index != nullptr) *bad_index = r * k + col;
            return false;
          }
          code = src[col] + 1;
        }
        byte += code * kT1Pow3[j];
      }
      dst[b] = static_cast<uint8_t>(byte);
    }
  }
  return true;
}

bool unpack_t1(const uint8_t* packed, int64_t n, int64_t k, int8_t* q, int64_t* bad_index) {
  const int64_t row_bytes = t1_row_bytes(k);
  for (int64_t r = 0; r < n; ++r) {
    const uint8_t* src = packed + r * row_bytes;
    for (int64_t b = 0; b < row_bytes; ++b) {
      int byte = src[b];
      if (byte > kT1MaxByte) {
        if (bad_index != nullptr) *bad_index = r * row_bytes + b;
        return false;
      }
      for (int j = 0; j < 5 && b * 5 + j < k; ++j) {
        q[r * k + b * 5 + j] = static_cast<int8_t>(byte % 3 - 1);
        byte /= 3;
      }
    }
  }
  return true;
}

}  // namespace bitlab
