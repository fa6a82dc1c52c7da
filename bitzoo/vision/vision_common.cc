#include "bitzoo/vision/vision_common.h"

#include <vector>

#include <torch/nn/init.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/types.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bitcore/errors.h"
#include "bitcore/tensor_checks.h"
#include "bitlayers/deployed_skeleton.h"

namespace bitlab {
namespace bitzoo {

ImageClassifier::ImageClassifier(const std::string& model_type, int64_t in_channels,
                                 int64_t image_size, bool fixed_size)
    : in_channels_(in_channels), image_size_(image_size), fixed_size_(fixed_size) {
  config.model_type = model_type;
}

torch::Tensor ImageClassifier::example_input(int64_t batch) const {
  return torch::randn({batch, in_channels_, image_size_, image_size_});
}

void ImageClassifier::check_input(const torch::Tensor& input) const {
  const bool ok = input.defined() && input.dim() == 4 && input.size(1) == in_channels_ &&
                  (!fixed_size_ || (input.size(2) == image_size_ && input.size(3) == image_size_));
  if (ok) return;
  const std::string expected =
      fixed_size_ ? absl::StrCat("[B, ", in_channels_, ", ", image_size_, ", ", image_size_, "]")
                  : absl::StrCat("[B, ", in_channels_, ", H, W]");
  throw ShapeError(absl::StrCat(config.model_type, ": input must be ", expected, ", got ",
                                input.defined() ? shape_string(input) : "an undefined tensor"));
}

Stem read_stem(ConfigFields& fields) {
  return fields.get_choice("stem", "imagenet", {"imagenet", "small"}) == "small" ? Stem::kSmall
                                                                                 : Stem::kImageNet;
}

int64_t default_image_size(Stem stem) { return stem == Stem::kSmall ? 32 : 224; }

void SwappableMembers::replace_child(const std::string& name,
                                     const torch::nn::AnyModule& replacement) {
  const auto it = members_.find(name);
  if (it == members_.end()) {
    std::vector<std::string> names;
    for (const auto& member : members_) names.push_back(member.first);
    throw BitLabError(absl::StrCat("replace_child: '", name,
                                   "' is not a swappable child; expected one of ",
                                   absl::StrJoin(names, ", ")));
  }
  *it->second = replacement;
}

ConversionRule keep_float_rule(const std::string& pattern, const std::string& name) {
  ConversionRule rule;
  rule.pattern = pattern;
  rule.keep_float = true;
  rule.name = name;
  return rule;
}

void init_convs_and_batchnorms(torch::nn::Module& module) {
  if (building_deployed_skeleton()) return;  // its tensors are filled from a file next
  torch::NoGradGuard no_grad;
  for (const auto& m : module.modules(/*include_self=*/false)) {
    if (auto* conv = m->as<torch::nn::Conv2d>()) {
      torch::nn::init::kaiming_normal_(conv->weight, /*a=*/0, torch::kFanOut, torch::kReLU);
      if (conv->bias.defined()) torch::nn::init::zeros_(conv->bias);
    } else if (auto* bn = m->as<torch::nn::BatchNorm2d>()) {
      torch::nn::init::ones_(bn->weight);
      torch::nn::init::zeros_(bn->bias);
    }
  }
}

}  // namespace bitzoo
}  // namespace bitlab
