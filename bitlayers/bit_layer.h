// BitLayer: what every ternary layer in bitlayers has in common, beside being a
// torch::nn::Module. The converter and memory_report find Bit layers in a module tree with
// dynamic_cast<BitLayer*>, so they work on layers they were not written for.
#ifndef BITLAB_BITLAYERS_BIT_LAYER_H_
#define BITLAB_BITLAYERS_BIT_LAYER_H_

#include <cstdint>

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

}  // namespace bitlab

#endif  // BITLAB_BITLAYERS_BIT_LAYER_H_
