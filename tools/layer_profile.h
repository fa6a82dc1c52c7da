// Per-layer timing of a model's forward, for `bitlab benchmark --per_layer`.
//
// A libtorch module has no forward hooks, so the profile listens to at::RecordFunction, which
// every aten operator and every Bit layer (bitlayers/profile_name.h) reports to: the
// outermost scopes of the forward are its layers (a Bit layer's scope encloses the operators
// it runs; a float layer is its one operator, e.g. aten::conv2d, aten::batch_norm), timed from
// start to end on the calling thread. Each run of the forward must report the same sequence,
// which a model without data-dependent control flow does.
//
// Example:
//   std::vector<bitlab::LayerTiming> layers = bitlab::profile_layers(
//       [&] { model->forward(input); }, /*iterations=*/10);
//   std::cout << bitlab::format_layer_profile(layers);
#ifndef BITLAB_TOOLS_LAYER_PROFILE_H_
#define BITLAB_TOOLS_LAYER_PROFILE_H_

#include <functional>
#include <string>
#include <vector>

namespace bitlab {

/// One outermost scope of the forward.
struct LayerTiming {
  /// The operator ("aten::conv2d") or Bit layer ("BitConv2d 64->64 k3x3 [x86_avx2]").
  std::string name;
  /// The shape of its first tensor input, e.g. "[1, 64, 56, 56]".
  std::string input_shape;
  /// Median over the iterations.
  double milliseconds = 0;
};

/// Runs `forward` `iterations` times (at least 1) while profiling; returns the outermost
/// scopes of one run in order, each with its median time. Throws BitLabError when the runs
/// report different sequences.
std::vector<LayerTiming> profile_layers(const std::function<void()>& forward, int iterations);

/// A table: index, layer, input shape, milliseconds and share of the profiled total.
std::string format_layer_profile(const std::vector<LayerTiming>& layers);

}  // namespace bitlab

#endif  // BITLAB_TOOLS_LAYER_PROFILE_H_
