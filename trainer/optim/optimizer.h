// make_optimizer: a libtorch SGD or AdamW over a model's trainable parameters, built from an
// OptimizerConfig, with weight decay on weights only; get_lr / set_lr for every param group.
//
// Weight decay pulls weights toward 0. On biases and normalization gains/shifts that only
// distorts the model (a norm's gain of 1 is the neutral value, not 0), so, as is usual for
// transformers and ResNets, the parameters are split into two param groups:
//   decay:    parameters with dim >= 2 (Linear/Conv weights, embeddings, ternary latent
//             weights) outside normalization modules: weight_decay from the config;
//   no decay: parameters with dim <= 1 (biases, norm weights) and every parameter of a
//             module whose type name contains "Norm" (BatchNorm*, LayerNorm, GroupNorm,
//             InstanceNorm*, bitlab::BitRMSNorm, bitlab::BitLayerNorm): weight_decay 0.
// Only parameters that require grad and are defined and non-empty are included: a deployed
// Bit layer keeps an empty `weight` and a frozen parameter must not move under weight decay.
// Empty groups are left out; a model with no trainable parameters is an error.
//
// Example:
//   bitlab::trainer::OptimizerConfig config;   // adamw, lr 1e-3, weight_decay 0.01
//   auto optimizer = bitlab::trainer::make_optimizer(*model, config);
//   loss.backward();
//   optimizer->step();
//   bitlab::trainer::set_lr(*optimizer, 5e-4);
#ifndef BITLAB_TRAINER_OPTIM_OPTIMIZER_H_
#define BITLAB_TRAINER_OPTIM_OPTIMIZER_H_

#include <memory>

#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

#include "trainer/optim/training_config.h"

namespace bitlab {
namespace trainer {

/// torch::optim::SGD (momentum, Nesterov, L2 weight decay) or torch::optim::AdamW
/// (decoupled weight decay), with the decay / no-decay param groups described above (the
/// decay group first). Throws BitLabError when the model has no trainable parameters.
std::unique_ptr<torch::optim::Optimizer> make_optimizer(torch::nn::Module& model,
                                                        const OptimizerConfig& config);

/// The learning rate of the first param group (make_optimizer gives all groups the same).
/// Throws BitLabError when the optimizer has no param groups.
double get_lr(const torch::optim::Optimizer& optimizer);
/// Sets the learning rate of every param group.
void set_lr(torch::optim::Optimizer& optimizer, double lr);

}  // namespace trainer
}  // namespace bitlab

#endif  // BITLAB_TRAINER_OPTIM_OPTIMIZER_H_
