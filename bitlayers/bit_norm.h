// BitRMSNorm and BitLayerNorm: the float32 normalizations of BitNet b1.58 models.
//
// BitNet b1.58 normalizes the input of every quantized projection ("SubLN"): before the
// attention and MLP blocks, and again inside them, before the attention output projection and
// the MLP down projection. These layers are not quantized: their few weights stay float32 and
// they compute in float32 (float64 inputs stay float64), returning the input's dtype. Both
// normalize over the last dimension only.
//
//   BitRMSNorm:   y = x / sqrt(mean(x^2 over the last dim) + eps) * weight
//   BitLayerNorm: torch::nn::LayerNorm over the last dim (at::layer_norm), with an optional
//                 bias.
//
// Example:
//   bitlab::BitRMSNorm norm(bitlab::BitRMSNormOptions(512).eps(1e-5));
//   torch::Tensor y = norm(x);   // x: (..., 512)
//   bitlab::BitLayerNorm ln(bitlab::BitLayerNormOptions(512).bias(false));
#ifndef BITLAB_BITLAYERS_BIT_NORM_H_
#define BITLAB_BITLAYERS_BIT_NORM_H_

#include <cstdint>
#include <ostream>

#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>

namespace bitlab {

struct BitRMSNormOptions {
  /* implicit */ BitRMSNormOptions(int64_t normalized_shape)
      : normalized_shape_(normalized_shape) {}

  /// Size of the last dimension, which is normalized. Effect only through reset().
  TORCH_ARG(int64_t, normalized_shape);
  /// Added to the mean square before the square root. Read at every forward.
  TORCH_ARG(double, eps) = 1e-6;
  /// Whether the output is scaled by a learned `weight` (initialized to ones). Effect only
  /// through reset().
  TORCH_ARG(bool, elementwise_affine) = true;
};

class BitRMSNormImpl : public torch::nn::Cloneable<BitRMSNormImpl> {
 public:
  explicit BitRMSNormImpl(int64_t normalized_shape)
      : BitRMSNormImpl(BitRMSNormOptions(normalized_shape)) {}
  explicit BitRMSNormImpl(const BitRMSNormOptions& options);

  void reset() override;
  /// Sets `weight` to ones.
  void reset_parameters();
  void pretty_print(std::ostream& stream) const override;

  /// (..., normalized_shape) -> same shape and dtype.
  torch::Tensor forward(const torch::Tensor& input);

  BitRMSNormOptions options;
  /// [normalized_shape], or an empty tensor without elementwise_affine.
  torch::Tensor weight;
};

TORCH_MODULE(BitRMSNorm);

struct BitLayerNormOptions {
  /* implicit */ BitLayerNormOptions(int64_t normalized_shape)
      : normalized_shape_(normalized_shape) {}

  /// Size of the last dimension, which is normalized. Effect only through reset().
  TORCH_ARG(int64_t, normalized_shape);
  /// Added to the variance before the square root. Read at every forward.
  TORCH_ARG(double, eps) = 1e-5;
  /// Whether the output is scaled by a learned `weight` (ones) and, with `bias`, shifted by a
  /// learned `bias` (zeros). Effect only through reset().
  TORCH_ARG(bool, elementwise_affine) = true;
  /// Whether there is a learned bias (only with elementwise_affine). Effect only through
  /// reset().
  TORCH_ARG(bool, bias) = true;
};

class BitLayerNormImpl : public torch::nn::Cloneable<BitLayerNormImpl> {
 public:
  explicit BitLayerNormImpl(int64_t normalized_shape)
      : BitLayerNormImpl(BitLayerNormOptions(normalized_shape)) {}
  explicit BitLayerNormImpl(const BitLayerNormOptions& options);

  void reset() override;
  /// Sets `weight` to ones and `bias` to zeros.
  void reset_parameters();
  void pretty_print(std::ostream& stream) const override;

  /// (..., normalized_shape) -> same shape and dtype.
  torch::Tensor forward(const torch::Tensor& input);

  BitLayerNormOptions options;
  /// [normalized_shape], or empty tensors when absent.
  torch::Tensor weight;
  torch::Tensor bias;
};

TORCH_MODULE(BitLayerNorm);

}  // namespace bitlab

#endif  // BITLAB_BITLAYERS_BIT_NORM_H_
