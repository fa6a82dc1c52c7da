#include "trainer/lm/perplexity.h"

#include <algorithm>
#include <cmath>

#include <torch/csrc/autograd/grad_mode.h>
#include <torch/nn/functional/loss.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bitcore/errors.h"

namespace bitlab {
namespace trainer {
namespace {

// Puts the model in eval mode and back into the mode it had, even when a forward throws.
class EvalModeGuard {
 public:
  explicit EvalModeGuard(torch::nn::Module& model)
      : model_(model), was_training_(model.is_training()) {
    model_.eval();
  }
  ~EvalModeGuard() { model_.train(was_training_); }
  EvalModeGuard(const EvalModeGuard&) = delete;
  EvalModeGuard& operator=(const EvalModeGuard&) = delete;

 private:
  torch::nn::Module& model_;
  bool was_training_;
};

}  // namespace

double heldout_perplexity(BitModel& model, const at::Tensor& bytes, int64_t context_length,
                          int64_t batch_size) {
  if (!bytes.defined() || bytes.scalar_type() != at::kLong || bytes.dim() != 1 ||
      bytes.size(0) < 2) {
    throw ShapeError(absl::StrCat("heldout_perplexity: expected int64 bytes [N] with N >= 2; got ",
                                  bytes.defined()
                                      ? absl::StrCat(c10::toString(bytes.scalar_type()), " [",
                                                     absl::StrJoin(bytes.sizes(), ", "), "]")
                                      : "an undefined tensor"));
  }
  if (context_length < 1 || batch_size < 1) {
    throw BitLabError(
        absl::StrCat("heldout_perplexity: expected context_length >= 1 and "
                     "batch_size >= 1; got ",
                     context_length, " and ", batch_size));
  }
  EvalModeGuard eval_mode(model);
  torch::NoGradGuard no_grad;
  namespace F = torch::nn::functional;
  double nll = 0;
  int64_t predicted = 0;
  // Chunks [b, len]: inputs chunk[:, :-1], targets chunk[:, 1:].
  const auto score = [&](const at::Tensor& chunks) {
    const int64_t len = chunks.size(1);
    const at::Tensor logits = model.forward(chunks.narrow(1, 0, len - 1));
    const at::Tensor targets = chunks.narrow(1, 1, len - 1).reshape({-1});
    nll += F::cross_entropy(logits.reshape({targets.size(0), -1}).to(at::kDouble), targets,
                            F::CrossEntropyFuncOptions().reduction(torch::kSum))
               .item<double>();
    predicted += targets.size(0);
  };
  const at::Tensor text = bytes.contiguous();
  const int64_t chunk = context_length + 1;
  const int64_t full_chunks = text.size(0) / chunk;
  for (int64_t first = 0; first < full_chunks; first += batch_size) {
    const int64_t count = std::min(batch_size, full_chunks - first);
    score(text.narrow(0, first * chunk, count * chunk).view({count, chunk}));
  }
  const int64_t rest = text.size(0) - full_chunks * chunk;
  if (rest >= 2) score(text.narrow(0, full_chunks * chunk, rest).unsqueeze(0));
  return std::exp(nll / static_cast<double>(predicted));
}

}  // namespace trainer
}  // namespace bitlab
