// BitConv1d / BitConv2d / BitConv3d: drop-ins for torch::nn::Conv1d/2d/3d whose weight is
// ternary, with the same options (stride, padding including kSame / kValid, dilation, groups,
// bias, padding_mode) and the life cycle of BitLinear (bit_linear.h).
//
//   train():  fake quantization with the straight-through estimator through torch's
//             convolution: the weight, viewed as [out, in/groups * prod(kernel)], is quantized
//             like a BitLinear weight; int8 activations are quantized per tensor, or, for the
//             per-token setting ("per_channel"), with one scale per sample (a scale per
//             position would differ within one patch and could not be factored out of the
//             integer dot product).
//   eval():   the quantized input is unfolded into patches (im2col on int8 values) that feed
//             the ternary matrix kernel the registry picks, one matrix product per group.
//             Convolutions with few output channels per group (depthwise) run as a direct
//             convolution on the integer values instead, which is exact in float32.
//   deploy(): the float weight is freed; the packed weights `qweight`, `qweight_scale` and the
//             bias (now a buffer) stay.
//
// Example:
//   bitlab::BitConv2d conv(bitlab::BitConv2dOptions(64, 128, 3).stride(2).padding(1));
//   torch::Tensor y = conv(x);          // [B, 64, H, W] -> [B, 128, H/2, W/2]
//   conv->deploy();
#ifndef BITLAB_BITLAYERS_BIT_CONV_H_
#define BITLAB_BITLAYERS_BIT_CONV_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <ostream>
#include <type_traits>
#include <vector>

#include <torch/arg.h>
#include <torch/expanding_array.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/options/conv.h>
#include <torch/nn/pimpl.h>
#include <torch/serialize/input-archive.h>

#include "bitcore/bitlinear.h"
#include "bitcore/quant_config.h"
#include "bitlayers/bit_layer.h"
#include "bitlayers/bit_linear.h"
#include "bitlayers/packed_weight_tracker.h"

namespace bitlab {

template <size_t D>
struct BitConvOptions {
  using padding_t = torch::nn::detail::conv_padding_t<D>;
  using padding_mode_t = torch::nn::detail::conv_padding_mode_t;

  BitConvOptions(int64_t in_channels, int64_t out_channels, torch::ExpandingArray<D> kernel_size)
      : in_channels_(in_channels), out_channels_(out_channels), kernel_size_(kernel_size) {}

  /// The options of a torch convolution (a torch::nn::Conv*Impl's `options`), with the default
  /// quantization config. Throws BitLabError for transposed convolutions.
  static BitConvOptions from_torch(const torch::nn::detail::ConvNdOptions<D>& options);

  /// Effect only through reset().
  TORCH_ARG(int64_t, in_channels);
  /// Effect only through reset().
  TORCH_ARG(int64_t, out_channels);
  /// Effect only through reset().
  TORCH_ARG(torch::ExpandingArray<D>, kernel_size);
  TORCH_ARG(torch::ExpandingArray<D>, stride) = 1;
  /// Explicit padding per side, or torch::kValid (none) or torch::kSame (output size = input
  /// size; stride 1 only; odd total padding puts the extra element at the end, as torch does).
  TORCH_ARG(padding_t, padding) = 0;
  TORCH_ARG(torch::ExpandingArray<D>, dilation) = 1;
  /// in_channels and out_channels must both be divisible by groups. Effect only through
  /// reset().
  TORCH_ARG(int64_t, groups) = 1;
  /// Effect only through reset().
  TORCH_ARG(bool, bias) = true;
  TORCH_ARG(padding_mode_t, padding_mode) = torch::kZeros;
  /// Effect only through reset() / reset_parameters().
  TORCH_ARG(InitMethod, init_method) = InitMethod::kKaimingUniform;
  TORCH_ARG(BitQuantConfig, quant_config);
};

using BitConv1dOptions = BitConvOptions<1>;
using BitConv2dOptions = BitConvOptions<2>;
using BitConv3dOptions = BitConvOptions<3>;

/// The torch module a BitConvImpl<D> replaces.
template <size_t D>
using TorchConvImpl =
    std::conditional_t<D == 1, torch::nn::Conv1dImpl,
                       std::conditional_t<D == 2, torch::nn::Conv2dImpl, torch::nn::Conv3dImpl>>;

template <size_t D>
class BitConvImpl : public torch::nn::Cloneable<BitConvImpl<D>>, public BitLayer {
 public:
  BitConvImpl(int64_t in_channels, int64_t out_channels, torch::ExpandingArray<D> kernel_size)
      : BitConvImpl(BitConvOptions<D>(in_channels, out_channels, kernel_size)) {}
  explicit BitConvImpl(const BitConvOptions<D>& options);

  /// Creates the parameters and buffers. (libtorch calls it from the constructor and, on a
  /// copy, from clone(); a module's reset() cannot run twice.)
  void reset() override;
  /// Re-initializes `weight` and `bias` per options.init_method (kKaimingUniform is torch's).
  void reset_parameters();
  void pretty_print(std::ostream& stream) const override;

  /// [B, in_channels, *spatial] or unbatched [in_channels, *spatial] ->
  /// [B, out_channels, *out_spatial] (unbatched in, unbatched out).
  torch::Tensor forward(const torch::Tensor& input);

  /// Throws BitLabError when turning training on after deploy().
  void train(bool on = true) override;

  /// Packs the weights, frees the float weight, makes the bias a buffer and switches to eval
  /// for good.
  void deploy() override;
  /// Loads a state dict saved in any mode; one saved deployed leaves this layer deployed.
  void load(torch::serialize::InputArchive& archive) override;
  /// True once the float weight is gone and the packed weights remain, which a clone or a
  /// loaded state dict of a deployed layer carries along.
  bool is_deployed() const override { return weight.numel() == 0 && qweight.numel() > 0; }
  int64_t float_bytes() const override;
  int64_t deployed_bytes() const override;

  /// A BitConv with `conv`'s options, weight and bias, quantized per `config`. Throws
  /// BitLabError for transposed convolutions.
  static std::shared_ptr<BitConvImpl> from_torch(const TorchConvImpl<D>& conv,
                                                 const BitQuantConfig& config);

  BitConvOptions<D> options;
  /// Latent float32 weight [out, in/groups, *kernel] (empty once deployed).
  torch::Tensor weight;
  /// Bias [out], or an empty tensor without bias: a parameter, and a buffer once deployed
  /// (same state-dict key).
  torch::Tensor bias;
  /// Canonical t2 packed weight [out, ceil(in/groups * prod(kernel) / 4)] and its scale ([1]
  /// or [out]); empty in training until the first eval forward.
  torch::Tensor qweight;
  torch::Tensor qweight_scale;

 private:
  // Input, weight and grouping checks with messages naming expected and actual.
  void check_input(const torch::Tensor& input) const;
  // Padding per side, last spatial dimension first (torch's pad order): [left_D, right_D, ...].
  std::vector<int64_t> padding_per_side() const;
  // Pads `input` ([B, C, *spatial]) per options.padding and padding_mode.
  torch::Tensor pad(const torch::Tensor& input) const;
  torch::Tensor forward_fake_quant(const torch::Tensor& input);
  torch::Tensor forward_packed(const torch::Tensor& input);
  void refresh_packed_weights();

  // Whether qweight is still that of weight.
  internal::PackedWeightTracker packed_tracker_;
  // One kernel-packed weight per group (im2col path), or the ternary weight as float32
  // integers for the direct path; rebuilt when qweight changes.
  std::vector<bitlinear::KernelWeights> group_weights_;
  torch::Tensor direct_weight_;
  const void* kernel_source_data_ = nullptr;
  int64_t kernel_source_version_ = -1;
};

using BitConv1dImpl = BitConvImpl<1>;
using BitConv2dImpl = BitConvImpl<2>;
using BitConv3dImpl = BitConvImpl<3>;

TORCH_MODULE(BitConv1d);
TORCH_MODULE(BitConv2d);
TORCH_MODULE(BitConv3d);

extern template class BitConvImpl<1>;
extern template class BitConvImpl<2>;
extern template class BitConvImpl<3>;

}  // namespace bitlab

#endif  // BITLAB_BITLAYERS_BIT_CONV_H_
