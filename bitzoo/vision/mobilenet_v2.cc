#include "bitzoo/vision/mobilenet_v2.h"

#include <algorithm>
#include <memory>

#include <torch/nn/init.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/types.h>

#include "bitlayers/deployed_skeleton.h"
#include "bitmodels/config_fields.h"
#include "bitmodels/model_registry.h"

namespace bitlab {
namespace bitzoo {
namespace {

// torchvision's _make_divisible: `value` rounded to the nearest multiple of 8 (at least 8),
// never more than 10% below it.
int64_t make_divisible(double value) {
  constexpr int64_t kDivisor = 8;
  int64_t rounded =
      std::max(kDivisor, static_cast<int64_t>(value + kDivisor / 2.0) / kDivisor * kDivisor);
  if (rounded < 0.9 * value) rounded += kDivisor;
  return rounded;
}

// One row of the paper's Table 2: expansion t, output channels c, blocks n, first stride s.
struct StageSetting {
  int64_t expand_ratio;
  int64_t channels;
  int64_t blocks;
  int64_t stride;
};

constexpr StageSetting kStages[] = {{1, 16, 1, 1}, {6, 24, 2, 2},  {6, 32, 3, 2}, {6, 64, 4, 2},
                                    {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
constexpr int64_t kStemChannels = 32;
constexpr int64_t kLastChannels = 1280;

}  // namespace

ConvBNReLU6Impl::ConvBNReLU6Impl(int64_t in_channels, int64_t out_channels, int64_t kernel,
                                 int64_t stride, int64_t groups) {
  push_back(make_conv2d(torch::nn::Conv2dOptions(in_channels, out_channels, kernel)
                            .stride(stride)
                            .padding((kernel - 1) / 2)
                            .groups(groups)
                            .bias(false)));
  push_back(torch::nn::BatchNorm2d(out_channels));
  push_back(torch::nn::ReLU6(torch::nn::ReLU6Options().inplace(true)));
}

InvertedResidualImpl::InvertedResidualImpl(int64_t in_channels, int64_t out_channels,
                                           int64_t stride, int64_t expand_ratio)
    : use_residual_(stride == 1 && in_channels == out_channels) {
  const int64_t hidden = in_channels * expand_ratio;
  torch::nn::Sequential layers;
  if (expand_ratio != 1) layers->push_back(ConvBNReLU6(in_channels, hidden, 1, 1, 1));
  layers->push_back(ConvBNReLU6(hidden, hidden, 3, stride, /*groups=*/hidden));
  layers->push_back(make_conv2d(torch::nn::Conv2dOptions(hidden, out_channels, 1).bias(false)));
  layers->push_back(torch::nn::BatchNorm2d(out_channels));
  conv = register_module("conv", layers);
}

torch::Tensor InvertedResidualImpl::forward(const torch::Tensor& x) {
  return use_residual_ ? x + conv->forward(x) : conv->forward(x);
}

MobileNetV2Impl::MobileNetV2Impl(const MobileNetV2Options& options)
    : ImageClassifier("mobilenet_v2", options.in_channels(), options.image_size(),
                      /*fixed_size=*/false) {
  const double width = options.width_mult();
  int64_t channels = make_divisible(kStemChannels * width);
  features = register_module("features", torch::nn::Sequential());
  features->push_back(
      ConvBNReLU6(options.in_channels(), channels, 3, options.stem() == Stem::kSmall ? 1 : 2, 1));
  for (const StageSetting& stage : kStages) {
    const int64_t out_channels = make_divisible(stage.channels * width);
    for (int64_t b = 0; b < stage.blocks; ++b) {
      features->push_back(
          InvertedResidual(channels, out_channels, b == 0 ? stage.stride : 1, stage.expand_ratio));
      channels = out_channels;
    }
  }
  // torchvision never narrows the last layer below 1280 channels.
  const int64_t last_channels = make_divisible(kLastChannels * std::max(1.0, width));
  features->push_back(ConvBNReLU6(channels, last_channels, 1, 1, 1));

  classifier = register_module(
      "classifier",
      torch::nn::Sequential(torch::nn::Dropout(0.2), make_linear(torch::nn::LinearOptions(
                                                         last_channels, options.num_classes()))));

  init_convs_and_batchnorms(*this);
  if (building_deployed_skeleton()) return;  // its tensors are filled from a file next
  torch::NoGradGuard no_grad;
  auto* fc = classifier[1]->as<torch::nn::Linear>();
  torch::nn::init::normal_(fc->weight, 0, 0.01);
  torch::nn::init::zeros_(fc->bias);
}

torch::Tensor MobileNetV2Impl::forward(const torch::Tensor& input) {
  check_input(input);
  const torch::Tensor pooled = torch::adaptive_avg_pool2d(features->forward(input), {1, 1});
  return classifier->forward(torch::flatten(pooled, 1));
}

std::vector<ConversionRule> MobileNetV2Impl::default_rules() const {
  return {keep_float_rule("^features\\.0\\.0$|^classifier\\.1$", "first conv and classifier")};
}

namespace {

BITLAB_REGISTER_MODEL("mobilenet_v2", "MobileNetV2 (torchvision layout)", [](ConfigFields& fields) {
  MobileNetV2Options options;
  const Stem stem = read_stem(fields);
  options.stem(stem)
      .width_mult(fields.get_double("width_mult", options.width_mult(), /*min=*/0.1, /*max=*/10))
      .num_classes(fields.get_int("num_classes", options.num_classes(), /*min=*/1))
      .in_channels(fields.get_int("in_channels", options.in_channels(), /*min=*/1))
      .image_size(fields.get_int("image_size", default_image_size(stem), /*min=*/1));
  return std::shared_ptr<BitModel>(std::make_shared<MobileNetV2Impl>(options));
});

}  // namespace

}  // namespace bitzoo
}  // namespace bitlab
