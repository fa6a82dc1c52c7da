#include "trainer/logging/progress.h"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <string>

#include <gtest/gtest.h>

namespace bitlab {
namespace trainer {
namespace {

TEST(FormatDuration, SecondsMinutesHoursDays) {
  EXPECT_EQ(format_duration(0), "0s");
  EXPECT_EQ(format_duration(42.4), "42s");
  EXPECT_EQ(format_duration(59.6), "1m00s");  // rounded to the second
  EXPECT_EQ(format_duration(185), "3m05s");
  EXPECT_EQ(format_duration(3600 + 2 * 60 + 59), "1h02m");
  EXPECT_EQ(format_duration(2 * 86400 + 3 * 3600 + 7), "2d03h");
}

TEST(FormatDuration, UnknownIsQuestionMark) {
  EXPECT_EQ(format_duration(-1), "?");
  EXPECT_EQ(format_duration(std::numeric_limits<double>::infinity()), "?");
  EXPECT_EQ(format_duration(std::numeric_limits<double>::quiet_NaN()), "?");
}

ProgressState example_state() {
  ProgressState state;
  state.step = 120;
  state.total_steps = 1000;
  state.epoch = 2;
  state.total_epochs = 10;
  state.loss = 0.43214;
  state.accuracy = 0.875;
  state.steps_per_second = 12.3;
  return state;
}

TEST(FormatProgressLine, AllFields) {
  // 880 steps left at 12.3 steps/s: 71.5 s.
  EXPECT_EQ(format_progress_line(example_state()),
            "step 120/1000 (12%) | epoch 2/10 | loss 0.4321 | acc 87.50% | 12.3 steps/s | "
            "ETA 1m12s");
}

TEST(FormatProgressLine, UnknownFieldsAreLeftOut) {
  ProgressState state;
  state.step = 7;
  EXPECT_EQ(format_progress_line(state), "step 7");
  state.epoch = 3;
  state.loss = 1.5;
  EXPECT_EQ(format_progress_line(state), "step 7 | epoch 3 | loss 1.5000");
}

TEST(FormatProgressLine, SlowRunsShowTwoDecimals) {
  ProgressState state = example_state();
  state.steps_per_second = 0.25;
  EXPECT_NE(format_progress_line(state).find("0.25 steps/s | ETA 58m40s"), std::string::npos);
}

TEST(EtaSeconds, NeedsTotalAndSpeed) {
  ProgressState state = example_state();
  EXPECT_DOUBLE_EQ(eta_seconds(state), 880 / 12.3);
  state.steps_per_second = 0;
  EXPECT_LT(eta_seconds(state), 0);
  state = example_state();
  state.total_steps = 0;
  EXPECT_LT(eta_seconds(state), 0);
}

TEST(FormatProgressBar, FillsInProportion) {
  ProgressState state = example_state();
  EXPECT_EQ(format_progress_bar(state, 10), "[#.........]");
  state.step = 999;
  EXPECT_EQ(format_progress_bar(state, 10), "[#########.]");  // full only when done
  state.step = 1000;
  EXPECT_EQ(format_progress_bar(state, 10), "[##########]");
  state.total_steps = 0;
  EXPECT_EQ(format_progress_bar(state, 10), "");
}

// Everything a reporter writes, read back from a temporary file.
class ReporterOutput {
 public:
  ReporterOutput() : file_(std::tmpfile()) {}
  ~ReporterOutput() { std::fclose(file_); }
  std::FILE* file() { return file_; }
  std::string text() {
    std::fflush(file_);
    std::rewind(file_);
    std::string text;
    for (int c; (c = std::fgetc(file_)) != EOF;) text += static_cast<char>(c);
    return text;
  }

 private:
  std::FILE* file_;
};

TEST(ProgressReporter, LinesModePrintsEveryLogEverySteps) {
  ReporterOutput output;
  ProgressOptions options;
  options.total_steps = 12;
  options.log_every = 5;
  options.mode = ProgressMode::kLines;
  {
    ProgressReporter progress(options, output.file());
    EXPECT_FALSE(progress.uses_bar());
    for (int step = 1; step <= 12; ++step) progress.update(step, 1, 0.5);
  }
  const std::string text = output.text();
  EXPECT_EQ(text.find('\r'), std::string::npos);
  // Steps 5, 10 and the last one.
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 3) << text;
  EXPECT_EQ(text.rfind("step 5/12 (41%)", 0), 0u) << text;
  EXPECT_NE(text.find("step 10/12"), std::string::npos);
  EXPECT_NE(text.find("step 12/12 (100%)"), std::string::npos);
}

TEST(ProgressReporter, FinishShowsTheLastStepInLinesMode) {
  ReporterOutput output;
  ProgressOptions options;  // total unknown, so no step counts as the last
  options.log_every = 100;
  options.mode = ProgressMode::kLines;
  ProgressReporter progress(options, output.file());
  progress.update(3, 1);
  EXPECT_EQ(output.text(), "");
  progress.finish();
  EXPECT_EQ(output.text(), "step 3 | epoch 1\n");
  progress.finish();  // nothing new to show
  EXPECT_EQ(output.text(), "step 3 | epoch 1\n");
}

TEST(ProgressReporter, BarModeRedrawsOneLine) {
  ReporterOutput output;
  ProgressOptions options;
  options.total_steps = 4;
  options.mode = ProgressMode::kBar;
  options.min_redraw_seconds = 0;
  ProgressReporter progress(options, output.file());
  EXPECT_TRUE(progress.uses_bar());
  for (int step = 1; step <= 4; ++step) progress.update(step, 1, 0.25, 0.5);
  std::string text = output.text();
  EXPECT_EQ(std::count(text.begin(), text.end(), '\r'), 4) << text;
  EXPECT_EQ(text.find('\n'), std::string::npos);
  EXPECT_NE(text.find("\r[####################] step 4/4 (100%)"), std::string::npos) << text;
  progress.finish();
  text = output.text();
  EXPECT_EQ(text.back(), '\n');
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1);
}

TEST(ProgressReporter, BarModeThrottlesRedraws) {
  ReporterOutput output;
  ProgressOptions options;
  options.total_steps = 1000;
  options.mode = ProgressMode::kBar;
  options.min_redraw_seconds = 3600;
  ProgressReporter progress(options, output.file());
  for (int step = 1; step <= 1000; ++step) progress.update(step, 1);
  const std::string text = output.text();
  // The first step and the last: the hour between redraws never passes.
  EXPECT_EQ(std::count(text.begin(), text.end(), '\r'), 2) << text;
}

TEST(ProgressReporter, AutoModeOnAFileIsLines) {
  ReporterOutput output;
  ProgressReporter progress(ProgressOptions{}, output.file());
  EXPECT_FALSE(progress.uses_bar());
}

}  // namespace
}  // namespace trainer
}  // namespace bitlab
