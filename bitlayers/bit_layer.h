// BitLayer: what every ternary layer in bitlayers has in common, beside being a
// torch::nn::Module. The converter and memory_report find Bit layers in a module tree with
// dynamic_cast<BitLayer*>, so they work on layers they were not written for.
#ifndef BITLAB_BITLAYERS_BIT_LAYER_H_
#define BITLAB_BITLAYERS_BIT_LAYER_H_

#include <cstdint>

#include <ATen/autocast_mode.h>
#include <ATen/core/Tensor.h>

namespace bitlab {

class BitLayer {
 public:
  virtual ~BitLayer() = default;

  /// Quantizes and packs the weights, frees the float weights and stays in eval mode for good;
  /// train() afterwards throws BitLabError. A second call does nothing.
  virtual void deploy() = 0;
  virtual bool is_deployed() const = 0;

  /// Bytes the float32 layer this one replaces holds in parameters (weights and bias).
  virtual int64_t float_bytes() const = 0;
  /// Bytes the layer keeps once deployed, as its state dict stores them: packed ternary
  /// weights (t2, 2 bits a weight), their float32 scales and the float32 bias. (A kernel may
  /// keep its own repacked copy beside them at run time.)
  virtual int64_t deployed_bytes() const = 0;
};

/// bfloat16 or float16: what autocast hands a layer, which Bit layers widen to float32.
inline bool is_reduced_float(const at::Tensor& t) {
  return t.scalar_type() == at::kBFloat16 || t.scalar_type() == at::kHalf;
}

/// Mixed precision around a Bit layer: while it lives, CPU autocast is off (it is restored
/// after), because the quantization and its straight-through gradients are defined on float32
/// (docs/numerics.md). Input is widened with is_reduced_float; the output is float32, which the
/// autocast ops after the layer cast as they need.
class Float32Region {
 public:
  Float32Region() : was_enabled_(at::autocast::is_cpu_enabled()) {
    if (was_enabled_) at::autocast::set_cpu_enabled(false);
  }
  ~Float32Region() {
    if (was_enabled_) at::autocast::set_cpu_enabled(true);
  }
  Float32Region(const Float32Region&) = delete;
  Float32Region& operator=(const Float32Region&) = delete;

 private:
  bool was_enabled_;
};

}  // namespace bitlab

#endif  // BITLAB_BITLAYERS_BIT_LAYER_H_
