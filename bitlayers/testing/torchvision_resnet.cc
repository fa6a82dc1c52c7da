#include "bitlayers/testing/torchvision_resnet.h"

#include <memory>

#include <torch/nn/init.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include "bitcore/errors.h"

namespace bitlab {
namespace testing {
namespace {

torch::nn::Conv2d conv3x3(int64_t in_planes, int64_t out_planes, int64_t stride) {
  return torch::nn::Conv2d(
      torch::nn::Conv2dOptions(in_planes, out_planes, 3).stride(stride).padding(1).bias(false));
}

torch::nn::Conv2d conv1x1(int64_t in_planes, int64_t out_planes, int64_t stride) {
  return torch::nn::Conv2d(
      torch::nn::Conv2dOptions(in_planes, out_planes, 1).stride(stride).bias(false));
}

[[noreturn]] void no_such_child(const char* module, const std::string& name) {
  throw BitLabError(std::string(module) + "::replace_child: '" + name +
                    "' is not a swappable child (expected one of the AnyModule members)");
}

}  // namespace

BasicBlockImpl::BasicBlockImpl(int64_t in_planes, int64_t planes, int64_t stride,
                               torch::nn::Sequential downsample_branch) {
  conv1 = torch::nn::AnyModule(register_module("conv1", conv3x3(in_planes, planes, stride)));
  bn1 = register_module("bn1", torch::nn::BatchNorm2d(planes));
  relu = register_module("relu", torch::nn::ReLU(torch::nn::ReLUOptions().inplace(true)));
  conv2 = torch::nn::AnyModule(register_module("conv2", conv3x3(planes, planes, 1)));
  bn2 = register_module("bn2", torch::nn::BatchNorm2d(planes));
  if (!downsample_branch.is_empty()) {
    downsample = register_module("downsample", downsample_branch);
  }
}

torch::Tensor BasicBlockImpl::forward(const torch::Tensor& x) {
  torch::Tensor out = relu(bn1(conv1.forward(x)));
  out = bn2(conv2.forward(out));
  const torch::Tensor identity = downsample.is_empty() ? x : downsample->forward(x);
  return relu(out + identity);
}

void BasicBlockImpl::replace_child(const std::string& name,
                                   const torch::nn::AnyModule& replacement) {
  if (name == "conv1") {
    conv1 = replacement;
  } else if (name == "conv2") {
    conv2 = replacement;
  } else {
    no_such_child("BasicBlock", name);
  }
}

ResNetImpl::ResNetImpl(const std::vector<int64_t>& blocks_per_stage, int64_t num_classes) {
  if (blocks_per_stage.size() != 4) {
    throw BitLabError("ResNet: blocks_per_stage must have 4 entries, got " +
                      std::to_string(blocks_per_stage.size()));
  }
  conv1 = torch::nn::AnyModule(register_module(
      "conv1",
      torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 64, 7).stride(2).padding(3).bias(false))));
  bn1 = register_module("bn1", torch::nn::BatchNorm2d(64));
  relu = register_module("relu", torch::nn::ReLU(torch::nn::ReLUOptions().inplace(true)));
  maxpool = register_module(
      "maxpool", torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(3).stride(2).padding(1)));
  layer1 = register_module("layer1", make_stage(64, blocks_per_stage[0], 1));
  layer2 = register_module("layer2", make_stage(128, blocks_per_stage[1], 2));
  layer3 = register_module("layer3", make_stage(256, blocks_per_stage[2], 2));
  layer4 = register_module("layer4", make_stage(512, blocks_per_stage[3], 2));
  avgpool = register_module("avgpool", torch::nn::AdaptiveAvgPool2d(1));
  fc = torch::nn::AnyModule(
      register_module("fc", torch::nn::Linear(512 * BasicBlockImpl::kExpansion, num_classes)));

  // torchvision's initialization: He-normal convolutions (fan_out, ReLU gain), unit BN.
  torch::NoGradGuard no_grad;
  for (const auto& m : modules(/*include_self=*/false)) {
    if (auto* conv = m->as<torch::nn::Conv2d>()) {
      torch::nn::init::kaiming_normal_(conv->weight, /*a=*/0, torch::kFanOut, torch::kReLU);
    } else if (auto* bn = m->as<torch::nn::BatchNorm2d>()) {
      torch::nn::init::ones_(bn->weight);
      torch::nn::init::zeros_(bn->bias);
    }
  }
}

torch::nn::Sequential ResNetImpl::make_stage(int64_t planes, int64_t blocks, int64_t stride) {
  torch::nn::Sequential downsample(nullptr);
  if (stride != 1 || in_planes_ != planes * BasicBlockImpl::kExpansion) {
    downsample =
        torch::nn::Sequential(conv1x1(in_planes_, planes * BasicBlockImpl::kExpansion, stride),
                              torch::nn::BatchNorm2d(planes * BasicBlockImpl::kExpansion));
  }
  torch::nn::Sequential stage;
  stage->push_back(BasicBlock(in_planes_, planes, stride, downsample));
  in_planes_ = planes * BasicBlockImpl::kExpansion;
  for (int64_t i = 1; i < blocks; ++i) {
    stage->push_back(BasicBlock(in_planes_, planes, 1, torch::nn::Sequential(nullptr)));
  }
  return stage;
}

torch::Tensor ResNetImpl::forward(const torch::Tensor& x) {
  torch::Tensor out = maxpool(relu(bn1(conv1.forward(x))));
  out = layer4->forward(layer3->forward(layer2->forward(layer1->forward(out))));
  out = torch::flatten(avgpool(out), 1);
  return fc.forward(out);
}

void ResNetImpl::replace_child(const std::string& name, const torch::nn::AnyModule& replacement) {
  if (name == "conv1") {
    conv1 = replacement;
  } else if (name == "fc") {
    fc = replacement;
  } else {
    no_such_child("ResNet", name);
  }
}

}  // namespace testing
}  // namespace bitlab
