// The bitlinear op: y = x W^T + b with ternary W, in the two forms a ternary layer needs.
//
//   training: fake quantization with the straight-through estimator (STE). The forward
//             computes linear(dequant(quant(x)), dequant(quant(W)), b) in float; the backward
//             treats quantization as the identity, so x and W get exactly the gradients that
//             `linear` has at the dequantized values, and b gets its usual gradient. This is
//             how quantization-aware training lets the latent float weights keep learning
//             while the forward sees only ternary values.
//   eval:     the deployed computation. Weights are quantized and packed once
//             (prepare_weights -> canonical t2, then pack_for_kernel -> the chosen kernel's
//             layout); each call quantizes the activations (int8 configs) and runs the kernel
//             the registry picks. Train and eval agree within rtol 1e-4 / atol 1e-5.
//
// Inputs are (..., K) float32, outputs (..., N). A `bias` that is an undefined tensor means no
// bias. The eval forward runs CPU tensors on the CPU kernels and, in a --config=cuda build,
// CUDA tensors on the CUDA kernels (int8 activations only; the output stays on the input's
// GPU); a build without --config=cuda refuses CUDA tensors with a ShapeError saying so.
//
// Example:
//   at::Tensor y = bitlab::bitlinear::forward(x, weight, bias, config, /*training=*/true);
//   auto prepared = bitlab::bitlinear::prepare_weights(weight, config);   // once
//   at::Tensor y_eval = bitlab::bitlinear::forward_prepared(x, prepared, bias, config);
#ifndef BITLAB_BITCORE_BITLINEAR_H_
#define BITLAB_BITCORE_BITLINEAR_H_

#include <ATen/core/Tensor.h>

#include "bitcore/kernels/bit_kernel.h"
#include "bitcore/quant_config.h"

namespace bitlab {
namespace bitlinear {

/// Quantized, canonically packed weights: what a deployed layer and a file keep.
struct PreparedWeights {
  at::Tensor qweight_scale;  // float32 [1] (per tensor) or [N] (per channel)
  at::Tensor qweight;        // uint8 [N, ceil(K/4)], canonical t2
  int64_t in_features = 0;   // K (not recoverable from qweight's padded rows)

  int64_t out_features() const { return qweight.size(0); }
};

/// Quantizes a float32 [N, K] weight per `config` and packs it as t2 (on the CPU).
PreparedWeights prepare_weights(const at::Tensor& weight, const BitQuantConfig& config);

/// Prepared weights repacked into one kernel's own layout, ready to run many times.
struct KernelWeights {
  const BitKernel* kernel = nullptr;
  at::Tensor packed;  // uint8 [kernel->packed_weight_bytes(N, K)]
  at::Tensor scale;   // float32 [1] or [N], contiguous
  int64_t in_features = 0;
  int64_t out_features = 0;
};

/// Repacks `prepared` for `kernel`.
KernelWeights pack_for_kernel(const PreparedWeights& prepared, const BitKernel& kernel);

/// Training forward: fake quantization with the STE (differentiable in x, weight and bias).
/// `w_hat_workspace`, if given, keeps the fake-quantized weight's memory from one call to the
/// next (see fake_quantize_weight_into). The backward reads that memory, so a forward's
/// backward must run before the next forward with a changed weight (the usual forward,
/// backward, step loop; several forwards before one backward are fine while the weight
/// stays the same).
at::Tensor fake_quant_linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                             const BitQuantConfig& config, at::Tensor* w_hat_workspace = nullptr);

/// Eval forward on weights packed for a kernel of the input's device (BitKernel::device()):
/// a CUDA input needs weights packed for a CUDA kernel, which this call moves to the input's
/// GPU each time.
at::Tensor forward_packed(const at::Tensor& x, const KernelWeights& weights, const at::Tensor& bias,
                          const BitQuantConfig& config);

/// Quantizes m x k float32 activations per config (int8 only) with `kernel`'s quantizer:
/// q (m x k), scales (m values per token, else 1) and, if not null, row_sums (m values). Rows
/// with a scale each are split among libtorch's threads; a per-tensor scale runs on one.
void quantize_activations(const BitKernel& kernel, const float* x, int64_t m, int64_t k,
                          const BitQuantConfig& config, int8_t* q, float* scales,
                          int32_t* row_sums);

/// Eval forward on activations quantized already (int8 [M, K], each in [-127, 127]) with
/// float32 scales x_scale ([1] for all rows or [M], one per row): y = acc * s * g + b, [M, N].
/// For callers that quantize before rearranging, as convolutions do before im2col.
/// `row_sums` (int32 [M], the sum of each row of q_rows) is optional: callers that can get
/// them cheaply save the kernel a pass over q_rows. `out`, if given (a contiguous float32
/// [M, N]), receives y and is returned, for callers that fill one output in pieces.
at::Tensor forward_packed_int8(const at::Tensor& q_rows, const at::Tensor& x_scale,
                               const KernelWeights& weights, const at::Tensor& bias,
                               const at::Tensor& row_sums = {}, const at::Tensor& out = {});

/// Eval forward on prepared weights, with the kernel the registry picks for `config` and the
/// input's device.
at::Tensor forward_prepared(const at::Tensor& x, const PreparedWeights& prepared,
                            const at::Tensor& bias, const BitQuantConfig& config);

/// fake_quant_linear when `training`, else prepare_weights + forward_prepared (which
/// re-quantizes the weights on every call: layers keep PreparedWeights instead).
at::Tensor forward(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                   const BitQuantConfig& config, bool training);

}  // namespace bitlinear
}  // namespace bitlab

#endif  // BITLAB_BITCORE_BITLINEAR_H_
