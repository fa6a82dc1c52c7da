// AutocastGuard: runs the forward passes in its scope under libtorch autocast, the C++ side of
// torch.autocast. Matmul-like ops (linear, conv, bmm, ...) then compute in bf16 or fp16 while
// the parameters, the optimizer and precision-sensitive ops stay float32.
//
// Modes (TrainingConfig::mixed_precision):
//   "none": the guard does nothing.
//   "bf16": bfloat16, on CPU or CUDA (same exponent range as float32: no loss scaling needed).
//   "fp16": float16, CUDA only (CPU autocast in libtorch 1.13 supports bf16 only); fp16
//           gradients can underflow, so training with it wants loss scaling, which the caller
//           has to do.
// The destructor restores the previous autocast state (enabled flag and dtype), so guards
// nest, and when the outermost autocast scope ends it clears autocast's cache of
// lower-precision weight copies: kept across an optimizer step, those would be stale.
// Autocast state is thread-local: the guard affects only the thread that creates it.
//
// Example:
//   {
//     bitlab::trainer::AutocastGuard autocast("bf16", torch::kCPU);
//     torch::Tensor logits = model->forward(x);   // bf16 from the matmuls
//     loss = torch::nn::functional::cross_entropy(logits, y);   // float32 (autocast policy)
//   }
//   loss.backward();
#ifndef BITLAB_TRAINER_OPTIM_MIXED_PRECISION_H_
#define BITLAB_TRAINER_OPTIM_MIXED_PRECISION_H_

#include <string>

#include <c10/core/DeviceType.h>
#include <c10/core/ScalarType.h>

namespace bitlab {
namespace trainer {

class AutocastGuard {
 public:
  /// `mode` is "none", "bf16" or "fp16"; `device` the device type the model runs on (CPU or
  /// CUDA). Throws BitLabError for fp16 on CPU, an unknown mode, or another device type.
  explicit AutocastGuard(const std::string& mode, c10::DeviceType device = c10::DeviceType::CPU);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

  /// Whether the guard turned autocast on (false for "none").
  bool active() const { return active_; }

 private:
  bool active_ = false;
  c10::DeviceType device_;
  // The state restored by the destructor.
  bool previous_enabled_ = false;
  c10::ScalarType previous_dtype_ = c10::ScalarType::Undefined;
};

}  // namespace trainer
}  // namespace bitlab

#endif  // BITLAB_TRAINER_OPTIM_MIXED_PRECISION_H_
