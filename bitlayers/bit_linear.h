// BitLinear: a drop-in for torch::nn::Linear whose weight is ternary.
//
// Life cycle:
//   train():  a float32 latent `weight` trains through fake quantization with the
//             straight-through estimator (bitlinear::fake_quant_linear).
//   eval():   the weight is quantized and packed once into the buffers `qweight` (canonical t2)
//             and `qweight_scale`, and repacked for the chosen kernel; forwards run that kernel.
//             Weights are repacked on the next forward after the layer leaves training (so
//             after optimizer steps), after an in-place change to `weight` in eval mode, or
//             after its storage is replaced.
//   deploy(): irreversible: the float weight is freed, leaving packed weights, scales and the
//             bias; train() afterwards throws BitLabError. Deploying twice does nothing.
//
// Example:
//   bitlab::BitLinear layer(bitlab::BitLinearOptions(256, 128).quant_config(
//       bitlab::BitQuantConfig::from_string("ai8pc_wpt")));
//   torch::Tensor y = layer(x);   // training: fake quantization
//   layer->eval();
//   torch::Tensor y_eval = layer(x);   // packed ternary kernel
//   layer->deploy();
#ifndef BITLAB_BITLAYERS_BIT_LINEAR_H_
#define BITLAB_BITLAYERS_BIT_LINEAR_H_

#include <cstdint>
#include <ostream>

#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>
#include <torch/serialize/input-archive.h>

#include "bitcore/bitlinear.h"
#include "bitcore/quant_config.h"
#include "bitlayers/bit_layer.h"
#include "bitlayers/packed_weight_tracker.h"

namespace bitlab {

/// How a fresh BitLinear initializes its latent weight.
enum class InitMethod { kXavierUniform, kKaimingUniform };

struct BitLinearOptions {
  BitLinearOptions(int64_t in_features, int64_t out_features)
      : in_features_(in_features), out_features_(out_features) {}

  /// Input features K. Changing it after construction has effect only through reset().
  TORCH_ARG(int64_t, in_features);
  /// Output features N. Changing it after construction has effect only through reset().
  TORCH_ARG(int64_t, out_features);
  /// Whether the layer has an additive bias. Effect only through reset().
  TORCH_ARG(bool, bias) = true;
  /// Initialization of the latent weight. Effect only through reset() / reset_parameters().
  TORCH_ARG(InitMethod, init_method) = InitMethod::kXavierUniform;
  /// Quantization of weights and activations. Read at every forward, so a change takes effect
  /// at the next forward (before deploy(); afterwards the packed weights keep their scales).
  TORCH_ARG(BitQuantConfig, quant_config);
};

class BitLinearImpl : public torch::nn::Cloneable<BitLinearImpl>, public BitLayer {
 public:
  BitLinearImpl(int64_t in_features, int64_t out_features)
      : BitLinearImpl(BitLinearOptions(in_features, out_features)) {}
  explicit BitLinearImpl(const BitLinearOptions& options);

  /// Creates the parameters and buffers. (libtorch calls it from the constructor and, on a
  /// copy, from clone(); a module's reset() cannot run twice.)
  void reset() override;
  /// Re-initializes `weight` and `bias` per options.init_method.
  void reset_parameters();
  void pretty_print(std::ostream& stream) const override;

  /// (..., in_features) -> (..., out_features).
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

  /// A BitLinear with `linear`'s weights and bias.
  static std::shared_ptr<BitLinearImpl> from_linear(const torch::nn::Linear& linear,
                                                    const BitQuantConfig& config);

  BitLinearOptions options;
  /// Latent float32 weight [out, in] (empty once deployed).
  torch::Tensor weight;
  /// Bias [out], or an empty tensor without bias: a parameter, and a buffer once deployed
  /// (same state-dict key).
  torch::Tensor bias;
  /// Canonical t2 packed weight [out, ceil(in/4)] and its scale ([1] or [out]); empty in
  /// training until the first eval forward.
  torch::Tensor qweight;
  torch::Tensor qweight_scale;

 private:
  // Quantizes and packs `weight` when the packed copy is missing or stale.
  void refresh_packed_weights();

  // Whether qweight is still that of weight.
  internal::PackedWeightTracker packed_tracker_;
  // The training forward's fake-quantized weight, reused from step to step.
  torch::Tensor w_hat_workspace_;
  // The kernel's copy, and what it was packed from (the buffers' storage and versions, which a
  // state-dict load changes).
  bitlinear::KernelWeights kernel_weights_;
  const void* kernel_source_data_ = nullptr;
  int64_t kernel_source_version_ = -1;
};

TORCH_MODULE(BitLinear);

}  // namespace bitlab

#endif  // BITLAB_BITLAYERS_BIT_LINEAR_H_
