#include "bitcore/packing.h"

#include <ATen/ops/empty.h>

#include "absl/strings/str_cat.h"
#include "bitcore/errors.h"
#include "bitcore/kernels/ternary_packing.h"
#include "bitcore/tensor_checks.h"

namespace bitlab {
namespace {

using PackFn = bool (*)(const int8_t*, int64_t, int64_t, uint8_t*, int64_t*);
using UnpackFn = bool (*)(const uint8_t*, int64_t, int64_t, int8_t*, int64_t*);

at::Tensor pack(const char* function, const at::Tensor& q, int64_t (*row_bytes)(int64_t),
                PackFn pack_fn) {
  check_dtype(function, "q", q, at::kChar);
  check_min_rank(function, "q", q, 1);
  check_cpu(function, "q", q);
  const at::Tensor rows = q.reshape({q.size(0), -1}).contiguous();
  const int64_t n = rows.size(0);
  const int64_t k = rows.size(1);
  at::Tensor packed = at::empty({n, row_bytes(k)}, at::kByte);
  int64_t bad = -1;
  if (!pack_fn(rows.data_ptr<int8_t>(), n, k, packed.data_ptr<uint8_t>(), &bad)) {
    throw BitLabError(absl::StrCat(function, ": q[", bad / k, ", ", bad % k, "] (row, column of ",
                                   shape_string(rows), ") is ", int{rows.data_ptr<int8_t>()[bad]},
                                   ", expected a ternary value in {-1, 0, 1}"));
  }
  return packed;
}

at::Tensor unpack(const char* function, const at::Tensor& packed, int64_t k,
                  int64_t (*row_bytes)(int64_t), UnpackFn unpack_fn, const char* invalid) {
  check_dtype(function, "packed", packed, at::kByte);
  check_rank(function, "packed", packed, 2);
  check_cpu(function, "packed", packed);
  if (k < 0 || packed.size(1) != row_bytes(k)) {
    throw ShapeError(absl::StrCat(function, ": packed has shape ", shape_string(packed),
                                  ", expected [N, ", k < 0 ? 0 : row_bytes(k), "] for k = ", k));
  }
  const at::Tensor src = packed.contiguous();
  at::Tensor q = at::empty({packed.size(0), k}, at::kChar);
  int64_t bad = -1;
  if (!unpack_fn(src.data_ptr<uint8_t>(), packed.size(0), k, q.data_ptr<int8_t>(), &bad)) {
    const int64_t width = packed.size(1);
    throw BitLabError(absl::StrCat(function, ": packed[", bad / width, ", ", bad % width,
                                   "] = ", int{src.data_ptr<uint8_t>()[bad]}, " holds ", invalid));
  }
  return q;
}

}  // namespace

at::Tensor pack_t2(const at::Tensor& q) {
  return pack("pack_t2", q, t2_row_bytes, bitlab::pack_t2);
}

at::Tensor unpack_t2(const at::Tensor& packed, int64_t k) {
  return unpack("unpack_t2", packed, k, t2_row_bytes, bitlab::unpack_t2,
                "the invalid 2-bit code 3 (codes are 0, 1, 2 for -1, 0, +1)");
}

at::Tensor pack_t1(const at::Tensor& q) {
  return pack("pack_t1", q, t1_row_bytes, bitlab::pack_t1);
}

at::Tensor unpack_t1(const at::Tensor& packed, int64_t k) {
  return unpack("unpack_t1", packed, k, t1_row_bytes, bitlab::unpack_t1,
                "a value above 242, which no five trits encode");
}

}  // namespace bitlab
