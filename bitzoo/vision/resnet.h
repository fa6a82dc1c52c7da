// ResNet in torchvision's layout: one template for BasicBlock and Bottleneck networks with an
// ImageNet or a small stem, and its named variants, registered as model types:
//   "resnet18", "resnet34" (BasicBlock), "resnet50" (Bottleneck): torchvision's networks.
//     Fields: num_classes (1000), in_channels (3), stem ("imagenet" | "small"; small: a 3x3
//     stride-1 conv1 and no maxpool, for 28x28 / 32x32 inputs), image_size (224 for the
//     ImageNet stem, 32 for the small one; shapes example_input(), any size runs).
//   "resnet20": the CIFAR ResNet-20 (He et al. 2016, sec. 4.2): a 3x3 16-channel conv1,
//     3 stages of 3 BasicBlocks with 16/32/64 channels, 1x1 conv + BN shortcuts where the
//     shape changes. Fields: num_classes (10), in_channels (3), image_size (32).
// Module names and initialization are torchvision's, so state-dict keys are too
// ("layer2.0.downsample.0.weight") and float checkpoints exported from torchvision load.
//
// The convolutions and fc are held as torch::nn::AnyModule members that the modules swap
// (SwappableMembers), and the shortcuts are Sequentials, so BitConverter converts every one;
// default_rules() keep conv1 and fc in float32.
//
// Example:
//   bitlab::bitzoo::ResNet model(bitlab::bitzoo::resnet18_options().num_classes(10).stem(
//       bitlab::bitzoo::Stem::kSmall).image_size(32));
//   torch::Tensor logits = model->forward(model->example_input(/*batch=*/2));   // [2, 10]
//   bitlab::BitConverter::convert(*model, quant_config, model->default_rules());
#ifndef BITLAB_BITZOO_VISION_RESNET_H_
#define BITLAB_BITZOO_VISION_RESNET_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <torch/arg.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/any.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/pooling.h>
#include <torch/nn/pimpl.h>

#include "bitzoo/vision/vision_common.h"

namespace bitlab {
namespace bitzoo {

enum class ResNetBlock { kBasic, kBottleneck };

struct ResNetOptions {
  ResNetOptions(ResNetBlock block, std::vector<int64_t> blocks_per_stage)
      : block_(block), blocks_per_stage_(std::move(blocks_per_stage)) {}

  /// The residual block every stage is made of.
  TORCH_ARG(ResNetBlock, block);
  /// Blocks in each stage (layer1, layer2, ...); the first stage keeps the resolution, each
  /// later one halves it.
  TORCH_ARG(std::vector<int64_t>, blocks_per_stage);
  /// The planes of each stage (same length as blocks_per_stage); a stage outputs
  /// planes * expansion channels (1 for kBasic, 4 for kBottleneck). conv1 outputs the first.
  TORCH_ARG(std::vector<int64_t>, stage_planes) = std::vector<int64_t>{64, 128, 256, 512};
  TORCH_ARG(Stem, stem) = Stem::kImageNet;
  TORCH_ARG(int64_t, num_classes) = 1000;
  TORCH_ARG(int64_t, in_channels) = 3;
  /// The side of example_input()'s images.
  TORCH_ARG(int64_t, image_size) = 224;
  /// config.model_type of the built model.
  TORCH_ARG(std::string, model_type) = "resnet";
};

/// The variants' options with their defaults (the registered builders start from these).
ResNetOptions resnet18_options();
ResNetOptions resnet34_options();
ResNetOptions resnet50_options();
ResNetOptions resnet20_options();

/// torchvision's BasicBlock: conv3x3(stride)-bn-relu-conv3x3-bn, plus the shortcut, then relu.
class BasicBlockImpl : public torch::nn::Module, public SwappableMembers {
 public:
  static constexpr int64_t kExpansion = 1;

  BasicBlockImpl(int64_t in_planes, int64_t planes, int64_t stride);
  torch::Tensor forward(const torch::Tensor& x);

  torch::nn::AnyModule conv1;
  torch::nn::BatchNorm2d bn1 = nullptr;
  torch::nn::ReLU relu = nullptr;
  torch::nn::AnyModule conv2;
  torch::nn::BatchNorm2d bn2 = nullptr;
  /// Empty for the identity shortcut; else Sequential(conv1x1, BatchNorm2d).
  torch::nn::Sequential downsample = nullptr;
};
TORCH_MODULE(BasicBlock);

/// torchvision's Bottleneck (ResNet v1.5: the stride is in the 3x3 conv2):
/// conv1x1-bn-relu-conv3x3(stride)-bn-relu-conv1x1(4x)-bn, plus the shortcut, then relu.
class BottleneckImpl : public torch::nn::Module, public SwappableMembers {
 public:
  static constexpr int64_t kExpansion = 4;

  BottleneckImpl(int64_t in_planes, int64_t planes, int64_t stride);
  torch::Tensor forward(const torch::Tensor& x);

  torch::nn::AnyModule conv1;
  torch::nn::BatchNorm2d bn1 = nullptr;
  torch::nn::AnyModule conv2;
  torch::nn::BatchNorm2d bn2 = nullptr;
  torch::nn::AnyModule conv3;
  torch::nn::BatchNorm2d bn3 = nullptr;
  torch::nn::ReLU relu = nullptr;
  torch::nn::Sequential downsample = nullptr;
};
TORCH_MODULE(Bottleneck);

class ResNetImpl : public ImageClassifier, public SwappableMembers {
 public:
  /// Throws BitLabError when the options are inconsistent (naming them).
  explicit ResNetImpl(const ResNetOptions& options);

  /// [B, in_channels, H, W] -> [B, num_classes].
  torch::Tensor forward(const torch::Tensor& input) override;
  /// conv1 and fc stay float32.
  std::vector<ConversionRule> default_rules() const override;

  torch::nn::AnyModule conv1;
  torch::nn::BatchNorm2d bn1 = nullptr;
  torch::nn::ReLU relu = nullptr;
  /// Empty with the small stem.
  torch::nn::MaxPool2d maxpool = nullptr;
  /// layer1, layer2, ...: Sequentials of blocks.
  std::vector<torch::nn::Sequential> layers;
  torch::nn::AdaptiveAvgPool2d avgpool = nullptr;
  torch::nn::AnyModule fc;
};
TORCH_MODULE(ResNet);

}  // namespace bitzoo
}  // namespace bitlab

#endif  // BITLAB_BITZOO_VISION_RESNET_H_
