// Progress reporting for training loops. On a terminal, one line redrawn in place with '\r':
//
//   [##..................] step 120/1000 (12%) | epoch 2/10 | loss 0.4321 | acc 87.50% |
//       12.3 steps/s | ETA 1m12s
//
// (a single line on screen). When stderr is a file or a pipe (CI logs, nohup), '\r' redraws
// would pile up as thousands of fragments, so the same text without the bar is printed as one
// line every `log_every` steps instead. The formatting functions are pure, so tests check the
// text without a terminal or a clock.
//
// Example:
//   bitlab::trainer::ProgressOptions options;
//   options.total_steps = 1000;
//   options.total_epochs = 10;
//   bitlab::trainer::ProgressReporter progress(options);
//   for (...) {
//     ...
//     progress.update(step, epoch, loss, accuracy);
//   }
//   progress.finish();   // ends the bar's line (the destructor does it too)
#ifndef BITLAB_TRAINER_LOGGING_PROGRESS_H_
#define BITLAB_TRAINER_LOGGING_PROGRESS_H_

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>

namespace bitlab {
namespace trainer {

/// A snapshot of training progress, everything one progress line shows.
struct ProgressState {
  /// Steps done so far, and the run's total (0: unknown, so no percentage, bar or ETA).
  int64_t step = 0;
  int64_t total_steps = 0;
  /// Current epoch (1-based), and the total (0: unknown, shown as "epoch 3").
  int64_t epoch = 0;
  int64_t total_epochs = 0;
  /// Latest training loss and accuracy (a fraction in [0, 1]); NaN leaves the field out.
  double loss = std::numeric_limits<double>::quiet_NaN();
  double accuracy = std::numeric_limits<double>::quiet_NaN();
  /// Measured speed; 0 while unknown (no speed and no ETA shown).
  double steps_per_second = 0.0;
};

/// A duration for humans, to the second: "42s", "3m05s", "1h02m" (seconds dropped past an
/// hour), "2d03h". Negative or non-finite durations give "?".
std::string format_duration(double seconds);

/// The seconds left at the state's speed, or a negative number when unknown (no total, no
/// speed yet).
double eta_seconds(const ProgressState& state);

/// The progress text without the bar, e.g.
/// "step 120/1000 (12%) | epoch 2/10 | loss 0.4321 | acc 87.50% | 12.3 steps/s | ETA 1m12s".
std::string format_progress_line(const ProgressState& state);

/// A bar `width` cells wide filled in proportion to step/total_steps, e.g. "[######......]";
/// empty when the total is unknown.
std::string format_progress_bar(const ProgressState& state, int width = 20);

enum class ProgressMode {
  kAuto,   // kBar when stderr is a terminal, else kLines.
  kBar,    // one line redrawn in place with '\r'.
  kLines,  // one line every log_every steps.
};

struct ProgressOptions {
  int64_t total_steps = 0;
  int64_t total_epochs = 0;
  /// In kLines mode, a line at every step divisible by this (and at the last step).
  int64_t log_every = 50;
  ProgressMode mode = ProgressMode::kAuto;
  /// In kBar mode, the bar is redrawn at most this often, so that fast loops do not spend
  /// their time writing to the terminal (the last step is always drawn).
  double min_redraw_seconds = 0.1;
};

/// Writes progress to a stream (stderr unless told otherwise). Not thread-safe.
class ProgressReporter {
 public:
  /// `out` is not owned and must outlive the reporter. The kAuto mode looks at `out`.
  explicit ProgressReporter(const ProgressOptions& options, std::FILE* out = stderr);
  ~ProgressReporter();
  ProgressReporter(const ProgressReporter&) = delete;
  ProgressReporter& operator=(const ProgressReporter&) = delete;

  /// Reports that `step` steps are done. Speed is measured from the first update, so a
  /// resumed run that starts at step 5000 reports its own speed, not 5000 steps in a second.
  void update(int64_t step, int64_t epoch, double loss = std::numeric_limits<double>::quiet_NaN(),
              double accuracy = std::numeric_limits<double>::quiet_NaN());

  /// Shows the latest state if it was not shown yet and, in kBar mode, ends the bar's line so
  /// that later output starts on a fresh one. Later updates start a new bar.
  void finish();

  /// Whether this reporter draws a bar (kBar, or kAuto on a terminal).
  bool uses_bar() const { return bar_; }
  const ProgressState& state() const { return state_; }

 private:
  using Clock = std::chrono::steady_clock;
  void draw();

  ProgressOptions options_;
  std::FILE* out_;
  bool bar_;
  ProgressState state_;
  bool started_ = false;  // an update arrived since construction (speed measured from there)
  int64_t first_step_ = 0;
  Clock::time_point first_time_;
  Clock::time_point last_draw_time_;
  bool shown_ = true;           // the latest state is on screen
  bool bar_line_open_ = false;  // a bar line was drawn and not yet ended by '\n'
  size_t last_bar_length_ = 0;  // to blank out the rest of a longer previous line
};

}  // namespace trainer
}  // namespace bitlab

#endif  // BITLAB_TRAINER_LOGGING_PROGRESS_H_
