// LrSchedule: every schedule against values computed by hand from its formula, at the first
// step, the boundaries between phases, the end and past the end.
#include "trainer/optim/lr_schedule.h"

#include <cmath>
#include <vector>

#include <torch/nn/modules/linear.h>

#include "bitcore/errors.h"
#include "gtest/gtest.h"
#include "trainer/optim/optimizer.h"
#include "trainer/optim/training_config.h"

namespace bitlab {
namespace trainer {
namespace {

constexpr double kTol = 1e-12;
// cos(pi / 5) = (1 + sqrt(5)) / 4 and cos(2 pi / 7), for the cosine schedules.
const double kCosPiOver5 = (1 + std::sqrt(5.0)) / 4;
constexpr double kCos2PiOver7 = 0.62348980185873353;

ScheduleConfig schedule(const char* name) {
  ScheduleConfig config;
  config.name = name;
  return config;
}

TEST(LrScheduleTest, Constant) {
  const LrSchedule lr(schedule("constant"), 0.1, 10);
  for (int64_t step : {0, 1, 9, 10, 1000}) EXPECT_EQ(lr.lr(step), 0.1) << step;
}

TEST(LrScheduleTest, Step) {
  ScheduleConfig config = schedule("step");
  config.step_size = 3;
  config.gamma = 0.5;
  const LrSchedule lr(config, 0.1, 100);
  // 0.1 * 0.5^floor(step / 3)
  EXPECT_NEAR(lr.lr(0), 0.1, kTol);
  EXPECT_NEAR(lr.lr(2), 0.1, kTol);
  EXPECT_NEAR(lr.lr(3), 0.05, kTol);
  EXPECT_NEAR(lr.lr(5), 0.05, kTol);
  EXPECT_NEAR(lr.lr(6), 0.025, kTol);
  EXPECT_NEAR(lr.lr(9), 0.0125, kTol);
  // Not clamped at total_steps: the decay goes on by step count.
  EXPECT_NEAR(lr.lr(300), 0.1 * std::pow(0.5, 100), kTol);
}

TEST(LrScheduleTest, Cosine) {
  ScheduleConfig config = schedule("cosine");
  config.min_lr = 0.01;
  const LrSchedule lr(config, 0.1, 10);
  // 0.01 + 0.09 * (1 + cos(pi * step / 10)) / 2
  EXPECT_NEAR(lr.lr(0), 0.1, kTol);
  EXPECT_NEAR(lr.lr(2), 0.01 + 0.09 * (1 + kCosPiOver5) / 2, kTol);
  EXPECT_NEAR(lr.lr(5), 0.055, kTol);
  EXPECT_NEAR(lr.lr(8), 0.01 + 0.09 * (1 - kCosPiOver5) / 2, kTol);
  EXPECT_NEAR(lr.lr(10), 0.01, kTol);
  EXPECT_NEAR(lr.lr(25), 0.01, kTol);
  // Stateless: the same step gives the same lr whatever was asked before (exact resume).
  EXPECT_EQ(lr.lr(2), LrSchedule(config, 0.1, 10).lr(2));
}

TEST(LrScheduleTest, WarmupCosine) {
  ScheduleConfig config = schedule("warmup_cosine");
  config.warmup_steps = 4;
  const LrSchedule lr(config, 0.1, 14);
  // Warmup: 0.1 * (step + 1) / 4.
  EXPECT_NEAR(lr.lr(0), 0.025, kTol);
  EXPECT_NEAR(lr.lr(1), 0.05, kTol);
  EXPECT_NEAR(lr.lr(3), 0.1, kTol);
  // Cosine from 0.1 to min_lr 0 over the remaining 10 steps: 0.1 * (1 + cos(pi * s / 10)) / 2
  // with s = step - 4.
  EXPECT_NEAR(lr.lr(4), 0.1, kTol);
  EXPECT_NEAR(lr.lr(6), 0.1 * (1 + kCosPiOver5) / 2, kTol);
  EXPECT_NEAR(lr.lr(9), 0.05, kTol);
  EXPECT_NEAR(lr.lr(14), 0, kTol);
  EXPECT_NEAR(lr.lr(20), 0, kTol);
}

TEST(LrScheduleTest, OneCycle) {
  ScheduleConfig config = schedule("one_cycle");  // pct_start 0.3, div 25, final_div 1e4
  const LrSchedule lr(config, 1.0, 10);
  // Start 1 / 25 = 0.04; peak at step 0.3 * 10 - 1 = 2; end 0.04 / 1e4 = 4e-6 at step 9.
  // Rising: 1 + (0.04 - 1) * (1 + cos(pi * step / 2)) / 2.
  EXPECT_NEAR(lr.lr(0), 0.04, kTol);
  EXPECT_NEAR(lr.lr(1), 0.52, kTol);
  EXPECT_NEAR(lr.lr(2), 1.0, kTol);
  // Falling over steps 2..9: 4e-6 + (1 - 4e-6) * (1 + cos(pi * (step - 2) / 7)) / 2.
  EXPECT_NEAR(lr.lr(4), 4e-6 + (1 - 4e-6) * (1 + kCos2PiOver7) / 2, kTol);
  EXPECT_NEAR(lr.lr(9), 4e-6, kTol);
  EXPECT_NEAR(lr.lr(10), 4e-6, kTol);
  EXPECT_NEAR(lr.lr(50), 4e-6, kTol);
}

TEST(LrScheduleTest, OneCycleWithPeakAtTheFirstStep) {
  ScheduleConfig config = schedule("one_cycle");
  config.pct_start = 0.1;  // peak at step 0.1 * 10 - 1 = 0
  config.div_factor = 10;
  config.final_div_factor = 10;
  const LrSchedule lr(config, 1.0, 10);
  EXPECT_NEAR(lr.lr(0), 1.0, kTol);
  // 0.01 + 0.99 * (1 + cos(pi * step / 9)) / 2
  EXPECT_NEAR(lr.lr(9), 0.01, kTol);
  EXPECT_NEAR(lr.lr(3), 0.01 + 0.99 * (1 + 0.5) / 2, kTol);  // cos(pi / 3) = 0.5
}

TEST(LrScheduleTest, ApplySetsEveryParamGroup) {
  torch::nn::Linear model(2, 2);
  auto optimizer = make_optimizer(*model, OptimizerConfig());
  ASSERT_EQ(optimizer->param_groups().size(), 2u);
  ScheduleConfig config = schedule("step");
  config.step_size = 1;
  const LrSchedule lr(config, 0.1, 10);
  lr.apply(*optimizer, 2);
  for (const auto& group : optimizer->param_groups()) {
    EXPECT_NEAR(group.options().get_lr(), 0.001, kTol);
  }
}

TEST(LrScheduleTest, InvalidArgumentsThrow) {
  EXPECT_THROW(LrSchedule(schedule("constant"), 0.1, 0), BitLabError);
  EXPECT_THROW(LrSchedule(schedule("constant"), 0, 10), BitLabError);
  EXPECT_THROW(LrSchedule(schedule("linear"), 0.1, 10), BitLabError);
  ScheduleConfig warmup = schedule("warmup_cosine");
  warmup.warmup_steps = 10;
  EXPECT_THROW(LrSchedule(warmup, 0.1, 10), BitLabError);
  EXPECT_NO_THROW(LrSchedule(warmup, 0.1, 11));
  EXPECT_THROW(LrSchedule(schedule("constant"), 0.1, 10).lr(-1), BitLabError);
}

}  // namespace
}  // namespace trainer
}  // namespace bitlab
