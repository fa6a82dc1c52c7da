// LeNet-5 (LeCun et al. 1998), registered as model type "lenet5": conv1 6@5x5, 2x2 max pool,
// conv2 16@5x5, 2x2 max pool, fc1 120, fc2 84, fc3 num_classes, ReLU between. Fields:
// in_channels (1), image_size (28 or 32; default 28), num_classes (10).
//
// A 32x32 input is the paper's; a 28x28 one (MNIST) gets conv1 padding 2 so that conv1
// outputs 28x28 either way and fc1 sees 16x5x5 features. Max pooling and ReLU replace the
// paper's trainable subsampling and scaled tanh, as in today's renditions: they train
// faster, and the ternary layers' activation quantization prefers ReLU's range.
//
// The layers are torch::nn::AnyModule members that the model swaps (SwappableMembers), so
// BitConverter converts conv2, fc1 and fc2; default_rules() keep conv1 and fc3 in float32.
//
// Example:
//   bitlab::bitzoo::LeNet5 model(bitlab::bitzoo::LeNet5Options().image_size(32));
//   torch::Tensor logits = model->forward(model->example_input(/*batch=*/8));   // [8, 10]
#ifndef BITLAB_BITZOO_VISION_LENET5_H_
#define BITLAB_BITZOO_VISION_LENET5_H_

#include <cstdint>
#include <vector>

#include <torch/arg.h>
#include <torch/nn/modules/container/any.h>
#include <torch/nn/pimpl.h>

#include "bitzoo/vision/vision_common.h"

namespace bitlab {
namespace bitzoo {

struct LeNet5Options {
  TORCH_ARG(int64_t, in_channels) = 1;
  /// 28 or 32: inputs must be image_size x image_size.
  TORCH_ARG(int64_t, image_size) = 28;
  TORCH_ARG(int64_t, num_classes) = 10;
};

class LeNet5Impl : public ImageClassifier, public SwappableMembers {
 public:
  /// Throws BitLabError when image_size is neither 28 nor 32.
  explicit LeNet5Impl(const LeNet5Options& options);

  /// [B, in_channels, image_size, image_size] -> [B, num_classes].
  torch::Tensor forward(const torch::Tensor& input) override;
  /// conv1 and fc3 stay float32.
  std::vector<ConversionRule> default_rules() const override;

  torch::nn::AnyModule conv1;
  torch::nn::AnyModule conv2;
  torch::nn::AnyModule fc1;
  torch::nn::AnyModule fc2;
  torch::nn::AnyModule fc3;
};
TORCH_MODULE(LeNet5);

}  // namespace bitzoo
}  // namespace bitlab

#endif  // BITLAB_BITZOO_VISION_LENET5_H_
