// A multilayer perceptron over flattened images, registered as model type "mlp": input
// [B, C, H, W] is flattened to [B, C*H*W], then each hidden layer fc1, fc2, ... is Linear +
// ReLU, and `classifier` maps to the logits. Fields: in_channels (1), image_size (28),
// hidden_sizes ([256, 128]; [] makes a linear classifier), num_classes (10).
//
// The Linear layers are torch::nn::AnyModule members that the model swaps (SwappableMembers),
// so BitConverter converts them. default_rules() keep only the classifier in float32: it is
// tiny (hidden x classes) and the logits are the most sensitive to quantization, while fc1,
// unlike a CNN's first conv, holds most of the weights, so converting it is where the memory
// saving is.
//
// Example:
//   bitlab::bitzoo::Mlp model(bitlab::bitzoo::MlpOptions().hidden_sizes({512}));
//   torch::Tensor logits = model->forward(torch::randn({4, 1, 28, 28}));   // [4, 10]
#ifndef BITLAB_BITZOO_VISION_MLP_H_
#define BITLAB_BITZOO_VISION_MLP_H_

#include <cstdint>
#include <vector>

#include <torch/arg.h>
#include <torch/nn/modules/container/any.h>
#include <torch/nn/pimpl.h>

#include "bitzoo/vision/vision_common.h"

namespace bitlab {
namespace bitzoo {

struct MlpOptions {
  TORCH_ARG(int64_t, in_channels) = 1;
  /// Inputs must be image_size x image_size.
  TORCH_ARG(int64_t, image_size) = 28;
  /// Widths of fc1, fc2, ...
  TORCH_ARG(std::vector<int64_t>, hidden_sizes) = std::vector<int64_t>{256, 128};
  TORCH_ARG(int64_t, num_classes) = 10;
};

class MlpImpl : public ImageClassifier, public SwappableMembers {
 public:
  explicit MlpImpl(const MlpOptions& options);

  /// [B, in_channels, image_size, image_size] -> [B, num_classes].
  torch::Tensor forward(const torch::Tensor& input) override;
  /// The classifier stays float32 (see the file comment).
  std::vector<ConversionRule> default_rules() const override;

  /// fc1, fc2, ... Never resize it: the swap table points at its elements.
  std::vector<torch::nn::AnyModule> hidden;
  torch::nn::AnyModule classifier;
};
TORCH_MODULE(Mlp);

}  // namespace bitzoo
}  // namespace bitlab

#endif  // BITLAB_BITZOO_VISION_MLP_H_
