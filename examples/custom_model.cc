// Adding a model to the zoo's registry: a float32 architecture built from torch::nn layers,
// registered under a model_type with BITLAB_REGISTER_MODEL, then built by name through
// AutoBitModel, which converts its layers to ternary ones (keeping the classifier in float32,
// as default_rules() asks) and deploys them.
#include <cstdio>
#include <memory>
#include <vector>

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/types.h>

#include "bitlayers/converter.h"
#include "bitmodels/auto_bit_model.h"
#include "bitmodels/bit_model.h"
#include "bitmodels/config_fields.h"
#include "bitmodels/model_registry.h"

namespace {

class TwoLayerNet : public bitlab::BitModel {
 public:
  TwoLayerNet(int64_t in_features, int64_t hidden, int64_t classes) : in_features_(in_features) {
    // A Sequential's children are what BitConverter can swap (see bitlayers/converter.h).
    layers = register_module(
        "layers", torch::nn::Sequential(torch::nn::Linear(in_features, hidden), torch::nn::ReLU(),
                                        torch::nn::Linear(hidden, classes)));
  }

  torch::Tensor forward(const torch::Tensor& input) override { return layers->forward(input); }

  torch::Tensor example_input(int64_t batch) const override {
    return torch::randn({batch, in_features_});
  }

  std::vector<bitlab::ConversionRule> default_rules() const override {
    bitlab::ConversionRule classifier;
    classifier.pattern = "^layers\\.2$";
    classifier.keep_float = true;
    classifier.name = "classifier";
    return {classifier};
  }

  torch::nn::Sequential layers;

 private:
  int64_t in_features_;
};

// The builder reads its fields; ConfigFields rejects unknown or out-of-range ones by name.
BITLAB_REGISTER_MODEL("two_layer_net", "Two Linear layers over feature vectors",
                      [](bitlab::ConfigFields& fields) {
                        const int64_t in = fields.get_int("in_features", 32, /*min=*/1);
                        const int64_t hidden = fields.get_int("hidden", 64, /*min=*/1);
                        const int64_t classes = fields.get_int("num_classes", 10, /*min=*/1);
                        return std::make_shared<TwoLayerNet>(in, hidden, classes);
                      });

}  // namespace

int main() {
  const bitlab::AutoBitConfig config =
      bitlab::AutoBitConfig::from_json({{"model_type", "two_layer_net"},
                                        {"quant_config", "ai8pc_wpt"},
                                        {"architecture", {{"in_features", 16}, {"hidden", 32}}}});
  bitlab::ConversionReport report;
  std::shared_ptr<bitlab::BitModel> model = bitlab::AutoBitModel::from_config(config, &report);
  std::printf("converted %lld layers, kept %lld in float32\n",
              static_cast<long long>(report.num_converted),
              static_cast<long long>(report.num_convertible_kept));
  bitlab::deploy_bit_layers(*model);
  const torch::Tensor logits = model->forward(model->example_input(/*batch=*/4));
  std::printf("logits %lld x %lld\n", static_cast<long long>(logits.size(0)),
              static_cast<long long>(logits.size(1)));
  return report.num_converted == 1 && logits.size(1) == 10 ? 0 : 1;
}
