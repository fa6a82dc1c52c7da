#include "bitzoo/vision/mlp.h"

#include <memory>

#include <torch/nn/modules/linear.h>
#include <torch/types.h>

#include "absl/strings/str_cat.h"
#include "bitlayers/deployed_skeleton.h"
#include "bitmodels/config_fields.h"
#include "bitmodels/model_registry.h"

namespace bitlab {
namespace bitzoo {

MlpImpl::MlpImpl(const MlpOptions& options)
    : ImageClassifier("mlp", options.in_channels(), options.image_size(), /*fixed_size=*/true) {
  // Sized before registering: register_swappable keeps pointers to the elements.
  hidden.resize(options.hidden_sizes().size());
  int64_t features = options.in_channels() * options.image_size() * options.image_size();
  for (size_t i = 0; i < hidden.size(); ++i) {
    const int64_t width = options.hidden_sizes()[i];
    register_swappable(*this, absl::StrCat("fc", i + 1), hidden[i],
                       make_linear(torch::nn::LinearOptions(features, width)));
    features = width;
  }
  register_swappable(*this, "classifier", classifier,
                     make_linear(torch::nn::LinearOptions(features, options.num_classes())));
}

torch::Tensor MlpImpl::forward(const torch::Tensor& input) {
  check_input(input);
  torch::Tensor x = torch::flatten(input, 1);
  for (torch::nn::AnyModule& layer : hidden) x = torch::relu(layer.forward(x));
  return classifier.forward(x);
}

std::vector<ConversionRule> MlpImpl::default_rules() const {
  return {keep_float_rule("^classifier$", "classifier")};
}

namespace {

BITLAB_REGISTER_MODEL(
    "mlp", "Multilayer perceptron over flattened images", [](ConfigFields& fields) {
      MlpOptions options;
      options.in_channels(fields.get_int("in_channels", options.in_channels(), /*min=*/1))
          .image_size(fields.get_int("image_size", options.image_size(), /*min=*/1))
          .hidden_sizes(fields.get_int_list("hidden_sizes", options.hidden_sizes(), /*min=*/1))
          .num_classes(fields.get_int("num_classes", options.num_classes(), /*min=*/1));
      return std::shared_ptr<BitModel>(std::make_shared<MlpImpl>(options));
    });

}  // namespace

}  // namespace bitzoo
}  // namespace bitlab
