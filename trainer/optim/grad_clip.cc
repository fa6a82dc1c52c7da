#include "trainer/optim/grad_clip.h"

#include <cmath>

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

#include "absl/strings/str_cat.h"
#include "bitcore/errors.h"

namespace bitlab {
namespace trainer {

double clip_grad_norm(const std::vector<at::Tensor>& parameters, double max_norm) {
  if (!(max_norm > 0)) {
    throw BitLabError(absl::StrCat("clip_grad_norm: max_norm must be > 0, got ", max_norm));
  }
  c10::NoGradGuard no_grad;
  std::vector<at::Tensor> grads;
  std::vector<at::Tensor> norms;
  for (const at::Tensor& param : parameters) {
    if (!param.defined() || !param.grad().defined()) continue;
    grads.push_back(param.grad());
    // Per-tensor norms accumulated in float64 (half-precision gradients would overflow) and
    // moved to the first gradient's device, so one reduction (one device sync) gives the total.
    norms.push_back(at::linalg_vector_norm(grads.back(), 2, c10::nullopt, false, at::kDouble)
                        .to(grads.front().device()));
  }
  if (grads.empty()) return 0;
  const double total = at::stack(norms).norm(2).item<double>();
  if (!std::isfinite(total)) return total;
  const double scale = max_norm / (total + 1e-6);
  if (scale < 1) {
    for (at::Tensor& grad : grads) grad.mul_(scale);
  }
  return total;
}

}  // namespace trainer
}  // namespace bitlab
