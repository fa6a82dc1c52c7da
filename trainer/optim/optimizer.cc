#include "trainer/optim/optimizer.h"

#include <string>
#include <unordered_set>
#include <vector>

#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>

#include "bitcore/errors.h"

namespace bitlab {
namespace trainer {
namespace {

struct ParamSplit {
  std::vector<torch::Tensor> decay;
  std::vector<torch::Tensor> no_decay;
};

ParamSplit split_parameters(torch::nn::Module& model) {
  ParamSplit split;
  // A module shared by two parents is visited twice; each parameter goes in once (libtorch
  // rejects a parameter that appears in two groups).
  std::unordered_set<const c10::TensorImpl*> seen;
  // apply() with a Module& (not the shared_ptr overloads) also works on a model that is not
  // owned by a shared_ptr.
  model.apply(torch::nn::Module::ModuleApplyFunction([&](torch::nn::Module& module) {
    // Module::name() is the demangled type name, e.g. "torch::nn::BatchNorm2dImpl".
    const bool is_norm = module.name().find("Norm") != std::string::npos;
    for (const torch::Tensor& param : module.named_parameters(/*recurse=*/false).values()) {
      if (!param.defined() || param.numel() == 0 || !param.requires_grad()) continue;
      if (!seen.insert(param.unsafeGetTensorImpl()).second) continue;
      (is_norm || param.dim() <= 1 ? split.no_decay : split.decay).push_back(param);
    }
  }));
  if (split.decay.empty() && split.no_decay.empty()) {
    throw BitLabError(
        "make_optimizer: the model has no trainable parameters (all frozen, "
        "empty or deployed)");
  }
  return split;
}

// Optimizer of the param groups of `split`, each with `options` and the group's weight decay.
template <typename Optimizer, typename Options>
std::unique_ptr<torch::optim::Optimizer> make_split(ParamSplit split, const Options& options) {
  std::vector<torch::optim::OptimizerParamGroup> groups;
  if (!split.decay.empty()) {
    groups.emplace_back(std::move(split.decay), std::make_unique<Options>(options));
  }
  if (!split.no_decay.empty()) {
    Options no_decay = options;
    no_decay.weight_decay(0);
    groups.emplace_back(std::move(split.no_decay), std::make_unique<Options>(no_decay));
  }
  return std::make_unique<Optimizer>(std::move(groups), options);
}

}  // namespace

std::unique_ptr<torch::optim::Optimizer> make_optimizer(torch::nn::Module& model,
                                                        const OptimizerConfig& config) {
  ParamSplit split = split_parameters(model);
  if (config.name == "sgd") {
    return make_split<torch::optim::SGD>(std::move(split), torch::optim::SGDOptions(config.lr)
                                                               .momentum(config.momentum)
                                                               .nesterov(config.nesterov)
                                                               .weight_decay(config.weight_decay));
  }
  if (config.name == "adamw") {
    return make_split<torch::optim::AdamW>(
        std::move(split), torch::optim::AdamWOptions(config.lr)
                              .betas(std::make_tuple(config.betas[0], config.betas[1]))
                              .eps(config.eps)
                              .weight_decay(config.weight_decay));
  }
  throw BitLabError("make_optimizer: unknown optimizer \"" + config.name +
                    "\"; expected \"adamw\" or \"sgd\"");
}

double get_lr(const torch::optim::Optimizer& optimizer) {
  if (optimizer.param_groups().empty()) throw BitLabError("get_lr: the optimizer has no groups");
  return optimizer.param_groups().front().options().get_lr();
}

void set_lr(torch::optim::Optimizer& optimizer, double lr) {
  for (torch::optim::OptimizerParamGroup& group : optimizer.param_groups()) {
    group.options().set_lr(lr);
  }
}

}  // namespace trainer
}  // namespace bitlab
