#include "bitmodels/testing_models.h"

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/linear.h>
#include <torch/types.h>

#include "bitmodels/model_registry.h"

namespace bitlab {
namespace testing {

TestMlp::TestMlp(int64_t in_features, int64_t hidden, int64_t classes) : in_features_(in_features) {
  layers = register_module(
      "layers", torch::nn::Sequential(torch::nn::Linear(in_features, hidden), torch::nn::ReLU(),
                                      torch::nn::Linear(hidden, classes)));
}

torch::Tensor TestMlp::forward(const torch::Tensor& input) { return layers->forward(input); }

torch::Tensor TestMlp::example_input(int64_t batch) const {
  return torch::randn({batch, in_features_});
}

std::vector<ConversionRule> TestMlp::default_rules() const {
  ConversionRule rule;
  rule.pattern = "^layers\\.2$";
  rule.keep_float = true;
  rule.name = "classifier";
  return {rule};
}

BITLAB_REGISTER_MODEL("test_mlp", "MLP for bitmodels' tests", [](ConfigFields& fields) {
  const int64_t in = fields.get_int("in_features", 8, 1);
  const int64_t hidden = fields.get_int("hidden", 16, 1);
  const int64_t classes = fields.get_int("num_classes", 3, 1);
  return std::make_shared<TestMlp>(in, hidden, classes);
});

}  // namespace testing
}  // namespace bitlab
