// BitGatedLinear: a ternary gated linear unit, y = silu(x Wg^T) * (x Wu^T), the gated input
// projection of SwiGLU feed-forward blocks, with both weights ternary. It is the layer that
// docs/tutorials/custom_layers.md writes on top of bitcore's bitlinear op: fake quantization
// with the straight-through estimator in training, weights packed once for the registry's
// kernel in eval, and the bitlab::BitLayer interface (deploy() and memory accounting) that
// deploy_bit_layers, memory_report and BitConverter find it by.
//
// Example:
//   examples::BitGatedLinear glu(examples::BitGatedLinearOptions(64, 128).quant_config(
//       bitlab::BitQuantConfig::from_string("ai8pc_wpt")));
//   torch::Tensor y = glu(x);   // [..., 64] -> [..., 128]
//   glu->deploy();              // packed 2-bit weights; float weights freed
#ifndef BITLAB_EXAMPLES_BIT_GATED_LINEAR_H_
#define BITLAB_EXAMPLES_BIT_GATED_LINEAR_H_

#include <cstdint>
#include <ostream>

#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include "bitcore/bitlinear.h"
#include "bitcore/quant_config.h"
#include "bitlayers/bit_layer.h"

namespace examples {

struct BitGatedLinearOptions {
  BitGatedLinearOptions(int64_t in_features, int64_t out_features)
      : in_features_(in_features), out_features_(out_features) {}

  /// Input features K. Changing it after construction has effect only through reset().
  TORCH_ARG(int64_t, in_features);
  /// Output features N. Changing it after construction has effect only through reset().
  TORCH_ARG(int64_t, out_features);
  /// Quantization of both projections. Training reads it at every forward; eval when it packs
  /// the weights (on the first eval forward after training, and in deploy()).
  TORCH_ARG(bitlab::BitQuantConfig, quant_config);
};

class BitGatedLinearImpl : public torch::nn::Cloneable<BitGatedLinearImpl>,
                           public bitlab::BitLayer {
 public:
  explicit BitGatedLinearImpl(const BitGatedLinearOptions& options);

  /// Registers the parameters and buffers (under the same names whatever the state).
  void reset() override;
  /// Re-initializes both latent weights (Xavier uniform).
  void reset_parameters();
  void pretty_print(std::ostream& stream) const override;

  /// (..., in_features) -> (..., out_features).
  torch::Tensor forward(const torch::Tensor& x);

  /// Throws BitLabError when turning training on after deploy().
  void train(bool on = true) override;

  // bitlab::BitLayer.
  void deploy() override;
  bool is_deployed() const override { return gate_weight.numel() == 0 && gate_qweight.numel() > 0; }
  int64_t float_bytes() const override;
  int64_t deployed_bytes() const override;

  BitGatedLinearOptions options;
  /// Latent float32 weights [out, in]; empty once deployed.
  torch::Tensor gate_weight;
  torch::Tensor up_weight;
  /// Canonical t2 weights [out, ceil(in / 4)] and their scales ([1] or [out]): empty until
  /// the first eval forward; all that remains once deployed.
  torch::Tensor gate_qweight;
  torch::Tensor gate_qweight_scale;
  torch::Tensor up_qweight;
  torch::Tensor up_qweight_scale;

 private:
  // Quantizes the latent weights into the t2 buffers (unless deployed), then repacks those
  // for the kernel the registry picks.
  void pack();

  bool packed_ = false;
  bitlab::bitlinear::KernelWeights gate_kernel_;
  bitlab::bitlinear::KernelWeights up_kernel_;
};

TORCH_MODULE(BitGatedLinear);

}  // namespace examples

#endif  // BITLAB_EXAMPLES_BIT_GATED_LINEAR_H_
