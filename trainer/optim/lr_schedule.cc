#include "trainer/optim/lr_schedule.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "bitcore/errors.h"
#include "trainer/optim/optimizer.h"

namespace bitlab {
namespace trainer {
namespace {

constexpr double kPi = 3.14159265358979323846;

// From `start` (pct 0) to `end` (pct 1) along half a cosine period; pct beyond 1 holds `end`.
double cosine_anneal(double start, double end, double pct) {
  pct = std::min(pct, 1.0);
  return end + (start - end) * (1 + std::cos(kPi * pct)) / 2;
}

}  // namespace

LrSchedule::LrSchedule(ScheduleConfig config, double base_lr, int64_t total_steps)
    : config_(std::move(config)), base_lr_(base_lr), total_steps_(total_steps) {
  if (config_.name == "constant") {
    kind_ = Kind::kConstant;
  } else if (config_.name == "step") {
    kind_ = Kind::kStep;
  } else if (config_.name == "cosine") {
    kind_ = Kind::kCosine;
  } else if (config_.name == "warmup_cosine") {
    kind_ = Kind::kWarmupCosine;
  } else if (config_.name == "one_cycle") {
    kind_ = Kind::kOneCycle;
  } else {
    throw BitLabError("LrSchedule: unknown schedule \"" + config_.name + "\"");
  }
  if (!(base_lr_ > 0)) {
    throw BitLabError(absl::StrCat("LrSchedule: base lr must be > 0, got ", base_lr_));
  }
  if (total_steps_ < 1) {
    throw BitLabError(absl::StrCat("LrSchedule: total_steps must be >= 1, got ", total_steps_));
  }
  if (kind_ == Kind::kStep && config_.step_size < 1) {
    throw BitLabError(absl::StrCat("LrSchedule: step_size must be >= 1, got ", config_.step_size));
  }
  if (kind_ == Kind::kWarmupCosine && config_.warmup_steps >= total_steps_) {
    throw BitLabError(absl::StrCat("LrSchedule: schedule warmup_steps (", config_.warmup_steps,
                                   ") must be less than the total optimizer steps (", total_steps_,
                                   ")"));
  }
}

double LrSchedule::lr(int64_t step) const {
  if (step < 0) throw BitLabError(absl::StrCat("LrSchedule: step must be >= 0, got ", step));
  const ScheduleConfig& c = config_;
  const double total = static_cast<double>(total_steps_);
  switch (kind_) {
    case Kind::kConstant:
      return base_lr_;
    case Kind::kStep:
      return base_lr_ * std::pow(c.gamma, static_cast<double>(step / c.step_size));
    case Kind::kCosine:
      return cosine_anneal(base_lr_, c.min_lr, step / total);
    case Kind::kWarmupCosine: {
      const int64_t warmup = c.warmup_steps;
      if (step < warmup) return base_lr_ * static_cast<double>(step + 1) / warmup;
      return cosine_anneal(base_lr_, c.min_lr, (step - warmup) / (total - warmup));
    }
    case Kind::kOneCycle: {
      const double initial_lr = base_lr_ / c.div_factor;
      const double final_lr = initial_lr / c.final_div_factor;
      // The step at which the lr peaks, as OneCycleLR computes it (a double, maybe not whole).
      const double peak = c.pct_start * total - 1;
      const double t = static_cast<double>(std::min(step, total_steps_ - 1));
      if (t <= peak) return cosine_anneal(initial_lr, base_lr_, peak > 0 ? t / peak : 1.0);
      return cosine_anneal(base_lr_, final_lr, (t - peak) / (total - 1 - peak));
    }
  }
  return base_lr_;  // unreachable: the switch covers every Kind
}

void LrSchedule::apply(torch::optim::Optimizer& optimizer, int64_t step) const {
  set_lr(optimizer, lr(step));
}

}  // namespace trainer
}  // namespace bitlab
