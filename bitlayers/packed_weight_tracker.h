// Whether a layer's packed weights are still those of its float weight: the bookkeeping that
// BitLinear, BitConv and BitEmbedding share.
//
// A packed copy is stale when the float weight's storage was replaced (set_data, a state-dict
// load into a new tensor), when it changed in place in a way the version counter sees (copy_,
// in eval mode), or when the weight-quantization settings changed. libtorch's optimizers update
// parameters through .data(), which the version counter does not see, so a layer also calls
// invalidate() whenever training may have changed the weight: on leaving training and on
// deploy().
#ifndef BITLAB_BITLAYERS_PACKED_WEIGHT_TRACKER_H_
#define BITLAB_BITLAYERS_PACKED_WEIGHT_TRACKER_H_

#include <cstdint>

#include <ATen/core/Tensor.h>

#include "bitcore/quant_config.h"

namespace bitlab {
namespace internal {

class PackedWeightTracker {
 public:
  /// True when `packed` is empty or was not made from `weight` as it is now, with `config`'s
  /// weight granularity and eps.
  bool stale(const at::Tensor& weight, const at::Tensor& packed,
             const BitQuantConfig& config) const {
    return packed.numel() == 0 || weight._version() != version_ || weight.data_ptr() != data_ ||
           config.weight_granularity != config_.weight_granularity || config.eps != config_.eps;
  }
  /// Records that the packed weights were just made from `weight` with `config`.
  void mark_packed(const at::Tensor& weight, const BitQuantConfig& config) {
    version_ = weight._version();
    data_ = weight.data_ptr();
    config_ = config;
  }
  /// The next stale() is true.
  void invalidate() { version_ = -1; }

 private:
  int64_t version_ = -1;
  const void* data_ = nullptr;
  BitQuantConfig config_;
};

}  // namespace internal
}  // namespace bitlab

#endif  // BITLAB_BITLAYERS_PACKED_WEIGHT_TRACKER_H_
