// Small architectures for bitmodels' own tests, registered as "test_mlp" (a Sequential MLP
// over [B, features] inputs). Test-only; the real architectures live in bitzoo.
#ifndef BITLAB_BITMODELS_TESTING_MODELS_H_
#define BITLAB_BITMODELS_TESTING_MODELS_H_

#include <cstdint>

#include <torch/nn/modules/container/sequential.h>

#include "bitmodels/bit_model.h"

namespace bitlab {
namespace testing {

/// in -> hidden -> ReLU -> classes, as a Sequential ("layers.0", "layers.2").
class TestMlp : public BitModel {
 public:
  TestMlp(int64_t in_features, int64_t hidden, int64_t classes);
  torch::Tensor forward(const torch::Tensor& input) override;
  torch::Tensor example_input(int64_t batch) const override;
  /// Keeps the last layer in float32.
  std::vector<ConversionRule> default_rules() const override;

  torch::nn::Sequential layers = nullptr;

 private:
  int64_t in_features_;
};

}  // namespace testing
}  // namespace bitlab

#endif  // BITLAB_BITMODELS_TESTING_MODELS_H_
