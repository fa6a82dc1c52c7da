// Canonical t2 / t1 packing on libtorch tensors (the formats are described in
// bitcore/kernels/ternary_packing.h). Rows are dim 0; everything after it is one row of K
// weights, so conv weights pack as (out_channels, in_channels * kh * kw).
//
// Example:
//   at::Tensor packed = bitlab::pack_t2(q_w);                    // uint8 [N, ceil(K/4)]
//   at::Tensor q = bitlab::unpack_t2(packed, q_w.size(1));       // int8 [N, K]
#ifndef BITLAB_BITCORE_PACKING_H_
#define BITLAB_BITCORE_PACKING_H_

#include <ATen/core/Tensor.h>

namespace bitlab {

/// int8 ternary values (rank >= 1, values in {-1, 0, 1}) -> uint8 [N, ceil(K/4)].
/// A value outside {-1, 0, 1} throws BitLabError naming its index.
at::Tensor pack_t2(const at::Tensor& q);
/// uint8 [N, ceil(k/4)] -> int8 [N, k]. An invalid code (3) throws BitLabError.
at::Tensor unpack_t2(const at::Tensor& packed, int64_t k);

/// int8 ternary values (rank >= 1) -> uint8 [N, ceil(K/5)].
at::Tensor pack_t1(const at::Tensor& q);
/// uint8 [N, ceil(k/5)] -> int8 [N, k]. A byte above 242 throws BitLabError.
at::Tensor unpack_t1(const at::Tensor& packed, int64_t k);

}  // namespace bitlab

#endif  // BITLAB_BITCORE_PACKING_H_
