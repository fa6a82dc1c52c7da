// The quantization primitives of the numerics contract (docs/numerics.md), on libtorch tensors of
// any leading shape. Every layer, exporter and test quantizes through these functions, so there is
// exactly one definition of each formula.
//
//   weight scale   per tensor g = max(mean|W|, eps), shape [1]
//                  per channel g[n] = max(mean over the rest of |W[n, ...]|, eps), shape [N]
//   ternary weight q_w = clamp(round_half_even(W / g), -1, 1), int8
//   act. scale     s = max(absmax, eps) / 127 over all of x (shape [1]) or per token (one per
//                  row of x flattened to (M, K); shape x.shape[:-1] + [1])
//   int8 act.      q_x = clamp(round_half_even(x * r), -127, 127), r = 127 / max(absmax, eps)
//                  computed once per scale in float32 (a multiply, so every kernel agrees)
//
// Example:
//   auto [q_w, g] = bitlab::quantize_weight(weight, config);   // int8 in {-1,0,1}, float
//   auto [q_x, s] = bitlab::quantize_x(x, config);             // int8 in [-127,127], float
//   at::Tensor w_hat = bitlab::dequantize_weight(q_w, g);      // float32, like weight
#ifndef BITLAB_BITCORE_QUANTIZATION_H_
#define BITLAB_BITCORE_QUANTIZATION_H_

#include <ATen/core/Tensor.h>

#include "bitcore/quant_config.h"

namespace bitlab {

/// A quantized tensor: integer values and the float32 scale(s) that multiply them back.
struct QuantizedTensor {
  at::Tensor values;  // int8
  at::Tensor scale;   // float32, broadcastable as documented per function
};

/// Absmean weight scale of a weight of rank >= 1 whose dim 0 is the output channel.
/// Shape [1] per tensor, [N] per channel; float32.
at::Tensor weight_scale(const at::Tensor& weight, Granularity granularity, float eps);

/// Ternary weight (int8, same shape as `weight`) and its scale (see weight_scale), using
/// config.weight_granularity and config.eps.
QuantizedTensor quantize_weight(const at::Tensor& weight, const BitQuantConfig& config);

/// float32 weight q * g, with a per-channel g broadcast along dim 0.
at::Tensor dequantize_weight(const at::Tensor& q, const at::Tensor& scale);

/// Absmax activation scale of x (rank >= 1, features last): shape [1] per tensor,
/// x.shape[:-1] + [1] per token; float32.
at::Tensor activation_scale(const at::Tensor& x, Granularity granularity, float eps);

/// int8 activations (same shape as x) and their scale (see activation_scale), using
/// config.activation_granularity and config.eps. Ignores config.activation_dtype.
QuantizedTensor quantize_x(const at::Tensor& x, const BitQuantConfig& config);

/// float32 activations q * s.
at::Tensor dequantize_x(const at::Tensor& q, const at::Tensor& scale);

/// dequantize_weight(quantize_weight(weight, config)) in one pass over the weight after its
/// scale, bit for bit the same values: the training path's fake quantization.
at::Tensor fake_quantize_weight(const at::Tensor& weight, const BitQuantConfig& config);

/// fake_quantize_weight written into `out`, whose storage is reused when it is a contiguous
/// float32 tensor of weight's size (else `out` is replaced by a new tensor). For training
/// loops, where a fresh multi-megabyte tensor every step costs a page fault per 4 KB.
void fake_quantize_weight_into(const at::Tensor& weight, const BitQuantConfig& config,
                               at::Tensor& out);
/// dequantize_x(quantize_x(x, config)) in one pass after the scales, bit for bit the same.
at::Tensor fake_quantize_x(const at::Tensor& x, const BitQuantConfig& config);

}  // namespace bitlab

#endif  // BITLAB_BITCORE_QUANTIZATION_H_
