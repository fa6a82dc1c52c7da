// clip_grad_norm: scales gradients down so that their total 2-norm is at most max_norm, like
// torch.nn.utils.clip_grad_norm_ (norm_type 2).
//
// The total norm is the 2-norm of all gradients together (as if concatenated into one
// vector). When it exceeds max_norm every gradient is multiplied in place by
// max_norm / (norm + 1e-6); the 1e-6 keeps the division finite and matches PyTorch.
// Parameters without a gradient (frozen, or unused in the last backward) are skipped.
//
// Example:
//   loss.backward();
//   double norm = bitlab::trainer::clip_grad_norm(model->parameters(), /*max_norm=*/1.0);
//   if (std::isfinite(norm)) optimizer->step();
#ifndef BITLAB_TRAINER_OPTIM_GRAD_CLIP_H_
#define BITLAB_TRAINER_OPTIM_GRAD_CLIP_H_

#include <vector>

#include <ATen/core/Tensor.h>

namespace bitlab {
namespace trainer {

/// Returns the total norm before clipping (0 when no parameter has a gradient). A non-finite
/// norm (an inf or NaN gradient) is returned without scaling anything, unlike PyTorch, which
/// would turn every gradient into NaN: the caller can skip that step instead. Throws
/// BitLabError unless max_norm > 0.
double clip_grad_norm(const std::vector<at::Tensor>& parameters, double max_norm);

}  // namespace trainer
}  // namespace bitlab

#endif  // BITLAB_TRAINER_OPTIM_GRAD_CLIP_H_
