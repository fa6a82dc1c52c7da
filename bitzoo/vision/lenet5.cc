#include "bitzoo/vision/lenet5.h"

#include <memory>

#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/types.h>

#include "absl/strings/str_cat.h"
#include "bitcore/errors.h"
#include "bitlayers/deployed_skeleton.h"
#include "bitmodels/config_fields.h"
#include "bitmodels/model_registry.h"

namespace bitlab {
namespace bitzoo {
namespace {

constexpr int64_t kFeatureSide = 5;  // conv2's 10x10 output after the second 2x2 pool.

}  // namespace

LeNet5Impl::LeNet5Impl(const LeNet5Options& options)
    : ImageClassifier("lenet5", options.in_channels(), options.image_size(),
                      /*fixed_size=*/true) {
  if (options.image_size() != 28 && options.image_size() != 32) {
    throw BitLabError(
        absl::StrCat("LeNet5: image_size must be 28 or 32, got ", options.image_size()));
  }
  // Pads a 28x28 input to the paper's 32x32, so conv1 outputs 28x28 for both.
  const int64_t padding = (32 - options.image_size()) / 2;
  register_swappable(
      *this, "conv1", conv1,
      make_conv2d(torch::nn::Conv2dOptions(options.in_channels(), 6, 5).padding(padding)));
  register_swappable(*this, "conv2", conv2, make_conv2d(torch::nn::Conv2dOptions(6, 16, 5)));
  register_swappable(*this, "fc1", fc1,
                     make_linear(torch::nn::LinearOptions(16 * kFeatureSide * kFeatureSide, 120)));
  register_swappable(*this, "fc2", fc2, make_linear(torch::nn::LinearOptions(120, 84)));
  register_swappable(*this, "fc3", fc3,
                     make_linear(torch::nn::LinearOptions(84, options.num_classes())));
}

torch::Tensor LeNet5Impl::forward(const torch::Tensor& input) {
  check_input(input);
  torch::Tensor x = torch::max_pool2d(torch::relu(conv1.forward(input)), 2);
  x = torch::max_pool2d(torch::relu(conv2.forward(x)), 2);
  x = torch::relu(fc1.forward(torch::flatten(x, 1)));
  x = torch::relu(fc2.forward(x));
  return fc3.forward(x);
}

std::vector<ConversionRule> LeNet5Impl::default_rules() const {
  return {keep_float_rule("^conv1$|^fc3$", "first conv and classifier")};
}

namespace {

BITLAB_REGISTER_MODEL("lenet5", "LeNet-5 for 28x28 or 32x32 images", [](ConfigFields& fields) {
  LeNet5Options options;
  options.in_channels(fields.get_int("in_channels", options.in_channels(), /*min=*/1))
      .image_size(fields.get_int("image_size", options.image_size()))
      .num_classes(fields.get_int("num_classes", options.num_classes(), /*min=*/1));
  if (options.image_size() != 28 && options.image_size() != 32) {
    throw ConfigError(absl::StrCat(fields.describe("image_size"), " must be 28 or 32, got ",
                                   options.image_size()));
  }
  return std::shared_ptr<BitModel>(std::make_shared<LeNet5Impl>(options));
});

}  // namespace

}  // namespace bitzoo
}  // namespace bitlab
