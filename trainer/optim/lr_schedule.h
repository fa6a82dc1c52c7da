// LrSchedule: the learning rate of each optimizer step, from a ScheduleConfig, the base lr
// (optimizer.lr) and the total number of optimizer steps of the run.
//
// `step` counts the optimizer steps already taken (0 for the first update). With lr the base
// lr and T = total_steps:
//   constant:       lr
//   step:           lr * gamma^floor(step / step_size)
//   cosine:         min_lr + (lr - min_lr) * (1 + cos(pi * min(step, T) / T)) / 2
//   warmup_cosine:  lr * (step + 1) / warmup_steps for step < warmup_steps (so the first update
//                   already moves, and step warmup_steps - 1 reaches lr), then cosine from lr to
//                   min_lr over the remaining T - warmup_steps steps
//   one_cycle:      torch.optim.lr_scheduler.OneCycleLR (anneal_strategy "cos", no momentum
//                   cycling): cosine from lr / div_factor up to lr at step pct_start * T - 1,
//                   then cosine down to lr / (div_factor * final_div_factor) at step T - 1
// After T steps the lr stays at its final value. (Where the peak of one_cycle falls on step 0,
// it starts at lr; PyTorch divides by zero there.)
//
// The schedule is stateless: lr(step) depends on the step alone, so a run resumed from a
// checkpoint at step s continues with exactly the lr an uninterrupted run would have had,
// with no scheduler state to save.
//
// Example:
//   bitlab::trainer::LrSchedule schedule(config.schedule, config.optimizer.lr, total_steps);
//   for (int64_t step = start_step; step < total_steps; ++step) {
//     schedule.apply(*optimizer, step);
//     ... backward ...
//     optimizer->step();
//   }
#ifndef BITLAB_TRAINER_OPTIM_LR_SCHEDULE_H_
#define BITLAB_TRAINER_OPTIM_LR_SCHEDULE_H_

#include <cstdint>

#include <torch/optim/optimizer.h>

#include "trainer/optim/training_config.h"

namespace bitlab {
namespace trainer {

class LrSchedule {
 public:
  /// Throws BitLabError for an unknown schedule name, unless base_lr > 0 and
  /// total_steps >= 1, and for warmup_cosine unless warmup_steps < total_steps (a run that ends
  /// inside its warmup never reaches lr).
  LrSchedule(ScheduleConfig config, double base_lr, int64_t total_steps);

  /// The lr of the update after `step` (>= 0) optimizer steps.
  double lr(int64_t step) const;
  /// Sets lr(step) on every param group of `optimizer`.
  void apply(torch::optim::Optimizer& optimizer, int64_t step) const;

  const ScheduleConfig& config() const { return config_; }
  double base_lr() const { return base_lr_; }
  int64_t total_steps() const { return total_steps_; }

 private:
  enum class Kind { kConstant, kStep, kCosine, kWarmupCosine, kOneCycle };

  ScheduleConfig config_;
  Kind kind_;
  double base_lr_;
  int64_t total_steps_;
};

}  // namespace trainer
}  // namespace bitlab

#endif  // BITLAB_TRAINER_OPTIM_LR_SCHEDULE_H_
