// MobileNetV2 (Sandler et al. 2018) in torchvision's layout, registered as model type
// "mobilenet_v2". Fields: width_mult (1.0, in [0.1, 10]), num_classes (1000), in_channels (3),
// stem ("imagenet" | "small"; small: features.0 has stride 1 instead of 2, for 28x28 / 32x32
// inputs), image_size (224 for the ImageNet stem, 32 for the small one; shapes
// example_input(), any size runs).
//
// Names and initialization are torchvision's, so state-dict keys are too: features.0 is a
// Conv2dNormActivation (Sequential conv "0", BatchNorm "1", ReLU6 "2"), features.1 ...
// features.17 are InvertedResidual blocks whose layers sit in the Sequential `conv`
// ("features.1.conv.0.0.weight" is the first depthwise conv), features.18 is the last 1x1
// Conv2dNormActivation, and classifier is Sequential(Dropout(0.2), Linear). Every convertible
// layer sits in a Sequential, so BitConverter converts all of them (the depthwise ones as
// grouped BitConv2d); default_rules() keep features.0.0 and classifier.1 in float32.
//
// Example:
//   bitlab::bitzoo::MobileNetV2 model(bitlab::bitzoo::MobileNetV2Options().num_classes(10));
//   torch::Tensor logits = model->forward(model->example_input(/*batch=*/1));   // [1, 10]
#ifndef BITLAB_BITZOO_VISION_MOBILENET_V2_H_
#define BITLAB_BITZOO_VISION_MOBILENET_V2_H_

#include <cstdint>
#include <vector>

#include <torch/arg.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/pimpl.h>

#include "bitzoo/vision/vision_common.h"

namespace bitlab {
namespace bitzoo {

struct MobileNetV2Options {
  /// Scales every layer's channels (rounded to multiples of 8, as torchvision does).
  TORCH_ARG(double, width_mult) = 1.0;
  TORCH_ARG(int64_t, num_classes) = 1000;
  TORCH_ARG(int64_t, in_channels) = 3;
  TORCH_ARG(Stem, stem) = Stem::kImageNet;
  /// The side of example_input()'s images.
  TORCH_ARG(int64_t, image_size) = 224;
};

/// torchvision's Conv2dNormActivation as MobileNetV2 uses it: Sequential(Conv2d "0" (no bias,
/// "same" padding), BatchNorm2d "1", ReLU6 "2"). A Sequential subclass with a plain
/// forward(Tensor), because an AnyModule (so another Sequential) cannot hold a module whose
/// forward is a template, as Sequential's is; BitConverter still swaps its conv as a
/// Sequential's.
class ConvBNReLU6Impl : public torch::nn::SequentialImpl {
 public:
  ConvBNReLU6Impl(int64_t in_channels, int64_t out_channels, int64_t kernel, int64_t stride,
                  int64_t groups);
  torch::Tensor forward(const torch::Tensor& x) { return SequentialImpl::forward(x); }
};
TORCH_MODULE(ConvBNReLU6);

/// torchvision's InvertedResidual: [1x1 expansion conv-BN-ReLU6 unless expand_ratio is 1],
/// 3x3 depthwise conv(stride)-BN-ReLU6, 1x1 linear projection conv-BN, all in `conv`; plus x
/// where stride is 1 and the channels stay.
class InvertedResidualImpl : public torch::nn::Module {
 public:
  InvertedResidualImpl(int64_t in_channels, int64_t out_channels, int64_t stride,
                       int64_t expand_ratio);
  torch::Tensor forward(const torch::Tensor& x);
  /// Whether forward adds x to conv's output (stride 1, channels unchanged).
  bool use_residual() const { return use_residual_; }

  torch::nn::Sequential conv = nullptr;

 private:
  bool use_residual_;
};
TORCH_MODULE(InvertedResidual);

class MobileNetV2Impl : public ImageClassifier {
 public:
  explicit MobileNetV2Impl(const MobileNetV2Options& options);

  /// [B, in_channels, H, W] -> [B, num_classes].
  torch::Tensor forward(const torch::Tensor& input) override;
  /// The first conv (features.0.0) and the classifier's Linear stay float32.
  std::vector<ConversionRule> default_rules() const override;

  torch::nn::Sequential features = nullptr;
  torch::nn::Sequential classifier = nullptr;
};
TORCH_MODULE(MobileNetV2);

}  // namespace bitzoo
}  // namespace bitlab

#endif  // BITLAB_BITZOO_VISION_MOBILENET_V2_H_
