// The straight-through estimator (STE) as differentiable fake quantization: the forward
// returns the quantize-dequantize round trip (bitcore/quantization.h), the backward passes the
// gradient on unchanged, as if quantization were the identity. Layers that run a torch op on
// the dequantized values (convolution, embedding lookup) use these, so their inputs get
// exactly the gradient that op has at the dequantized values. (bitlinear fuses the STE into
// its own autograd function instead, to save the dequantized weight only once.)
//
// Example:
//   at::Tensor w_hat = bitlab::ste_fake_quantize_weight(weight, config);   // [N, ...]
//   at::Tensor y = at::convolution(x_hat, w_hat, ...);   // backward reaches `weight`
#ifndef BITLAB_BITCORE_STRAIGHT_THROUGH_H_
#define BITLAB_BITCORE_STRAIGHT_THROUGH_H_

#include <ATen/core/Tensor.h>

#include "bitcore/quant_config.h"

namespace bitlab {

/// fake_quantize_weight with the STE: dim 0 is the output channel (a per-channel scale each).
at::Tensor ste_fake_quantize_weight(const at::Tensor& weight, const BitQuantConfig& config);

/// fake_quantize_x with the STE: per token means one scale per row of x's last dimension.
at::Tensor ste_fake_quantize_x(const at::Tensor& x, const BitQuantConfig& config);

}  // namespace bitlab

#endif  // BITLAB_BITCORE_STRAIGHT_THROUGH_H_
