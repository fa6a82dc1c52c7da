#include "bitzoo/vision/resnet.h"

#include <memory>

#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/types.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bitcore/errors.h"
#include "bitlayers/deployed_skeleton.h"
#include "bitmodels/config_fields.h"
#include "bitmodels/model_registry.h"

namespace bitlab {
namespace bitzoo {
namespace {

torch::nn::Conv2d conv3x3(int64_t in_planes, int64_t out_planes, int64_t stride) {
  return make_conv2d(
      torch::nn::Conv2dOptions(in_planes, out_planes, 3).stride(stride).padding(1).bias(false));
}

torch::nn::Conv2d conv1x1(int64_t in_planes, int64_t out_planes, int64_t stride) {
  return make_conv2d(torch::nn::Conv2dOptions(in_planes, out_planes, 1).stride(stride).bias(false));
}

torch::nn::ReLU inplace_relu() { return torch::nn::ReLU(torch::nn::ReLUOptions().inplace(true)); }

// Registers torchvision's projection shortcut (1x1 conv + BN, "downsample.0" / ".1") on
// `block` where the block changes the shape; returns an empty Sequential (identity) otherwise.
torch::nn::Sequential register_downsample(torch::nn::Module& block, int64_t in_planes,
                                          int64_t out_planes, int64_t stride) {
  if (stride == 1 && in_planes == out_planes) return nullptr;
  return block.register_module("downsample",
                               torch::nn::Sequential(conv1x1(in_planes, out_planes, stride),
                                                     torch::nn::BatchNorm2d(out_planes)));
}

torch::Tensor shortcut(torch::nn::Sequential& downsample, const torch::Tensor& x) {
  return downsample.is_empty() ? x : downsample->forward(x);
}

}  // namespace

ResNetOptions resnet18_options() {
  return ResNetOptions(ResNetBlock::kBasic, {2, 2, 2, 2}).model_type("resnet18");
}

ResNetOptions resnet34_options() {
  return ResNetOptions(ResNetBlock::kBasic, {3, 4, 6, 3}).model_type("resnet34");
}

ResNetOptions resnet50_options() {
  return ResNetOptions(ResNetBlock::kBottleneck, {3, 4, 6, 3}).model_type("resnet50");
}

ResNetOptions resnet20_options() {
  return ResNetOptions(ResNetBlock::kBasic, {3, 3, 3})
      .stage_planes({16, 32, 64})
      .stem(Stem::kSmall)
      .num_classes(10)
      .image_size(32)
      .model_type("resnet20");
}

BasicBlockImpl::BasicBlockImpl(int64_t in_planes, int64_t planes, int64_t stride) {
  register_swappable(*this, "conv1", conv1, conv3x3(in_planes, planes, stride));
  bn1 = register_module("bn1", torch::nn::BatchNorm2d(planes));
  relu = register_module("relu", inplace_relu());
  register_swappable(*this, "conv2", conv2, conv3x3(planes, planes, 1));
  bn2 = register_module("bn2", torch::nn::BatchNorm2d(planes));
  downsample = register_downsample(*this, in_planes, planes * kExpansion, stride);
}

torch::Tensor BasicBlockImpl::forward(const torch::Tensor& x) {
  torch::Tensor out = relu(bn1(conv1.forward(x)));
  out = bn2(conv2.forward(out));
  return relu(out + shortcut(downsample, x));
}

BottleneckImpl::BottleneckImpl(int64_t in_planes, int64_t planes, int64_t stride) {
  register_swappable(*this, "conv1", conv1, conv1x1(in_planes, planes, 1));
  bn1 = register_module("bn1", torch::nn::BatchNorm2d(planes));
  register_swappable(*this, "conv2", conv2, conv3x3(planes, planes, stride));
  bn2 = register_module("bn2", torch::nn::BatchNorm2d(planes));
  register_swappable(*this, "conv3", conv3, conv1x1(planes, planes * kExpansion, 1));
  bn3 = register_module("bn3", torch::nn::BatchNorm2d(planes * kExpansion));
  relu = register_module("relu", inplace_relu());
  downsample = register_downsample(*this, in_planes, planes * kExpansion, stride);
}

torch::Tensor BottleneckImpl::forward(const torch::Tensor& x) {
  torch::Tensor out = relu(bn1(conv1.forward(x)));
  out = relu(bn2(conv2.forward(out)));
  out = bn3(conv3.forward(out));
  return relu(out + shortcut(downsample, x));
}

ResNetImpl::ResNetImpl(const ResNetOptions& options)
    : ImageClassifier(options.model_type(), options.in_channels(), options.image_size(),
                      /*fixed_size=*/false) {
  const std::vector<int64_t>& blocks = options.blocks_per_stage();
  const std::vector<int64_t>& planes = options.stage_planes();
  if (blocks.empty() || blocks.size() != planes.size()) {
    throw BitLabError(absl::StrCat(
        "ResNet: blocks_per_stage and stage_planes must be non-empty and of the same length, "
        "got [",
        absl::StrJoin(blocks, ", "), "] and [", absl::StrJoin(planes, ", "), "]"));
  }

  const bool small = options.stem() == Stem::kSmall;
  register_swappable(*this, "conv1", conv1,
                     small
                         ? conv3x3(options.in_channels(), planes[0], 1)
                         : make_conv2d(torch::nn::Conv2dOptions(options.in_channels(), planes[0], 7)
                                           .stride(2)
                                           .padding(3)
                                           .bias(false)));
  bn1 = register_module("bn1", torch::nn::BatchNorm2d(planes[0]));
  relu = register_module("relu", inplace_relu());
  if (!small) {
    maxpool = register_module(
        "maxpool", torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(3).stride(2).padding(1)));
  }

  const int64_t expansion = options.block() == ResNetBlock::kBottleneck
                                ? BottleneckImpl::kExpansion
                                : BasicBlockImpl::kExpansion;
  int64_t in_planes = planes[0];
  for (size_t s = 0; s < blocks.size(); ++s) {
    torch::nn::Sequential stage;
    for (int64_t b = 0; b < blocks[s]; ++b) {
      // torchvision downsamples in the first block of every stage but the first.
      const int64_t stride = (s > 0 && b == 0) ? 2 : 1;
      if (options.block() == ResNetBlock::kBottleneck) {
        stage->push_back(Bottleneck(in_planes, planes[s], stride));
      } else {
        stage->push_back(BasicBlock(in_planes, planes[s], stride));
      }
      in_planes = planes[s] * expansion;
    }
    layers.push_back(register_module(absl::StrCat("layer", s + 1), stage));
  }
  avgpool = register_module("avgpool", torch::nn::AdaptiveAvgPool2d(1));
  register_swappable(*this, "fc", fc,
                     make_linear(torch::nn::LinearOptions(in_planes, options.num_classes())));

  init_convs_and_batchnorms(*this);
}

torch::Tensor ResNetImpl::forward(const torch::Tensor& input) {
  check_input(input);
  torch::Tensor out = relu(bn1(conv1.forward(input)));
  if (!maxpool.is_empty()) out = maxpool(out);
  for (torch::nn::Sequential& stage : layers) out = stage->forward(out);
  return fc.forward(torch::flatten(avgpool(out), 1));
}

std::vector<ConversionRule> ResNetImpl::default_rules() const {
  return {keep_float_rule("^conv1$|^fc$", "first conv and classifier")};
}

namespace {

// Builds a variant from `options` (its defaults) and the config's fields. resnet20 has no
// "stem" field: its small stem is what makes it the CIFAR network.
std::shared_ptr<BitModel> build_resnet(ResNetOptions options, ConfigFields& fields,
                                       bool has_stem_field) {
  if (has_stem_field) {
    const Stem stem = read_stem(fields);
    options.stem(stem).image_size(default_image_size(stem));
  }
  options.num_classes(fields.get_int("num_classes", options.num_classes(), /*min=*/1));
  options.in_channels(fields.get_int("in_channels", options.in_channels(), /*min=*/1));
  options.image_size(fields.get_int("image_size", options.image_size(), /*min=*/1));
  return std::make_shared<ResNetImpl>(options);
}

BITLAB_REGISTER_MODEL("resnet18", "ResNet-18 (torchvision layout)", [](ConfigFields& fields) {
  return build_resnet(resnet18_options(), fields, /*has_stem_field=*/true);
});
BITLAB_REGISTER_MODEL("resnet34", "ResNet-34 (torchvision layout)", [](ConfigFields& fields) {
  return build_resnet(resnet34_options(), fields, /*has_stem_field=*/true);
});
BITLAB_REGISTER_MODEL("resnet50", "ResNet-50 (torchvision layout)", [](ConfigFields& fields) {
  return build_resnet(resnet50_options(), fields, /*has_stem_field=*/true);
});
BITLAB_REGISTER_MODEL("resnet20", "ResNet-20 for 32x32 images (CIFAR, He et al. 2016)",
                      [](ConfigFields& fields) {
                        return build_resnet(resnet20_options(), fields,
                                            /*has_stem_field=*/false);
                      });

}  // namespace

}  // namespace bitzoo
}  // namespace bitlab
