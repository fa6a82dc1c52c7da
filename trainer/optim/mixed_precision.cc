#include "trainer/optim/mixed_precision.h"

#include <ATen/autocast_mode.h>

#include "absl/strings/str_cat.h"
#include "bitcore/errors.h"

namespace bitlab {
namespace trainer {

AutocastGuard::AutocastGuard(const std::string& mode, c10::DeviceType device) : device_(device) {
  if (mode == "none") return;
  if (mode != "bf16" && mode != "fp16") {
    throw BitLabError(absl::StrCat("AutocastGuard: unknown mixed precision mode \"", mode,
                                   "\"; expected \"none\", \"bf16\" or \"fp16\""));
  }
  const c10::ScalarType dtype = mode == "bf16" ? at::kBFloat16 : at::kHalf;
  if (device == c10::DeviceType::CPU) {
    if (dtype == at::kHalf) throw BitLabError("fp16 autocast needs CUDA; use bf16 on CPU");
    previous_enabled_ = at::autocast::is_cpu_enabled();
    previous_dtype_ = at::autocast::get_autocast_cpu_dtype();
    at::autocast::set_cpu_enabled(true);
    at::autocast::set_autocast_cpu_dtype(dtype);
  } else if (device == c10::DeviceType::CUDA) {
    previous_enabled_ = at::autocast::is_enabled();
    previous_dtype_ = at::autocast::get_autocast_gpu_dtype();
    at::autocast::set_enabled(true);
    at::autocast::set_autocast_gpu_dtype(dtype);
  } else {
    throw BitLabError(absl::StrCat("AutocastGuard: autocast supports CPU and CUDA, not ",
                                   c10::DeviceTypeName(device)));
  }
  at::autocast::increment_nesting();
  active_ = true;
}

AutocastGuard::~AutocastGuard() {
  if (!active_) return;
  // As torch.autocast.__exit__: the cache of casted weights lives until the outermost scope
  // ends.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  if (device_ == c10::DeviceType::CPU) {
    at::autocast::set_cpu_enabled(previous_enabled_);
    at::autocast::set_autocast_cpu_dtype(previous_dtype_);
  } else {
    at::autocast::set_enabled(previous_enabled_);
    at::autocast::set_autocast_gpu_dtype(previous_dtype_);
  }
}

}  // namespace trainer
}  // namespace bitlab
