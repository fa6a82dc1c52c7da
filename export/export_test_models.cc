#include "export/export_test_models.h"

#include <nlohmann/json.hpp>
#include <torch/nn/modules/batchnorm.h>
#include <torch/types.h>

#include "bitmodels/auto_bit_config.h"
#include "bitmodels/auto_bit_model.h"
#include "export/quantize_for_deployment.h"

namespace bitlab {
namespace testing {

std::shared_ptr<BitModel> export_test_model(const std::string& config_json, bool deploy) {
  torch::manual_seed(5);
  std::shared_ptr<BitModel> model =
      AutoBitModel::from_config(AutoBitConfig::from_json(nlohmann::json::parse(config_json)));
  // Training-mode forwards with a cumulative average (momentum None) leave each batch norm
  // with the mean and variance of its inputs over the passes.
  std::vector<torch::nn::BatchNorm2dImpl*> norms;
  for (const auto& module : model->modules()) {
    if (auto* norm = dynamic_cast<torch::nn::BatchNorm2dImpl*>(module.get())) {
      norm->reset_running_stats();
      norm->options.momentum(c10::nullopt);
      norms.push_back(norm);
    }
  }
  if (!norms.empty()) {
    torch::NoGradGuard no_grad;
    model->train();
    for (int pass = 0; pass < 4; ++pass) model->forward(model->example_input(8));
    for (torch::nn::BatchNorm2dImpl* norm : norms) norm->options.momentum(0.1);
  }
  if (deploy) quantize_for_deployment(*model);
  model->eval();
  return model;
}

}  // namespace testing
}  // namespace bitlab
