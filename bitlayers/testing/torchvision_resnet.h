// A float32 ResNet written like torchvision's (module names and initialization match
// torchvision.models.resnet18, so its state-dict keys are torchvision's), as a fixture for the
// converter's tests and the whole-model benchmarks. Test-only.
//
// Unlike torchvision's C++ port, every convertible layer (the convolutions and fc) is held as a
// torch::nn::AnyModule and called through it, and the modules implement
// bitlab::SwappableChildren, so BitConverter can swap them for Bit layers that forward() then
// runs (see converter.h). Downsample branches are torch::nn::Sequential, which swaps its own.
//
// Example:
//   bitlab::testing::ResNet18 model(/*num_classes=*/10);
//   torch::Tensor logits = model(torch::randn({2, 3, 224, 224}));   // [2, 10]
//   bitlab::BitConverter::convert(*model, config, rules);
#ifndef BITLAB_BITLAYERS_TESTING_TORCHVISION_RESNET_H_
#define BITLAB_BITLAYERS_TESTING_TORCHVISION_RESNET_H_

#include <cstdint>
#include <string>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/any.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/pooling.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include "bitlayers/converter.h"

namespace bitlab {
namespace testing {

/// torchvision's BasicBlock: conv3x3-bn-relu-conv3x3-bn, plus the identity or `downsample`.
class BasicBlockImpl : public torch::nn::Module, public SwappableChildren {
 public:
  static constexpr int64_t kExpansion = 1;

  /// `downsample` may be empty (torch::nn::Sequential(nullptr)): the identity shortcut.
  BasicBlockImpl(int64_t in_planes, int64_t planes, int64_t stride,
                 torch::nn::Sequential downsample);

  torch::Tensor forward(const torch::Tensor& x);
  void replace_child(const std::string& name, const torch::nn::AnyModule& replacement) override;

  torch::nn::AnyModule conv1;
  torch::nn::BatchNorm2d bn1 = nullptr;
  torch::nn::ReLU relu = nullptr;
  torch::nn::AnyModule conv2;
  torch::nn::BatchNorm2d bn2 = nullptr;
  torch::nn::Sequential downsample = nullptr;
};
TORCH_MODULE(BasicBlock);

/// ResNet with BasicBlocks; `blocks_per_stage` {2, 2, 2, 2} is ResNet-18, {3, 4, 6, 3}
/// ResNet-34.
class ResNetImpl : public torch::nn::Module, public SwappableChildren {
 public:
  ResNetImpl(const std::vector<int64_t>& blocks_per_stage, int64_t num_classes);

  /// [B, 3, H, W] -> [B, num_classes].
  torch::Tensor forward(const torch::Tensor& x);
  void replace_child(const std::string& name, const torch::nn::AnyModule& replacement) override;

  torch::nn::AnyModule conv1;
  torch::nn::BatchNorm2d bn1 = nullptr;
  torch::nn::ReLU relu = nullptr;
  torch::nn::MaxPool2d maxpool = nullptr;
  torch::nn::Sequential layer1 = nullptr;
  torch::nn::Sequential layer2 = nullptr;
  torch::nn::Sequential layer3 = nullptr;
  torch::nn::Sequential layer4 = nullptr;
  torch::nn::AdaptiveAvgPool2d avgpool = nullptr;
  torch::nn::AnyModule fc;

 private:
  torch::nn::Sequential make_stage(int64_t planes, int64_t blocks, int64_t stride);

  int64_t in_planes_ = 64;
};
TORCH_MODULE(ResNet);

class ResNet18Impl : public ResNetImpl {
 public:
  explicit ResNet18Impl(int64_t num_classes = 1000) : ResNetImpl({2, 2, 2, 2}, num_classes) {}
};
TORCH_MODULE(ResNet18);

}  // namespace testing
}  // namespace bitlab

#endif  // BITLAB_BITLAYERS_TESTING_TORCHVISION_RESNET_H_
