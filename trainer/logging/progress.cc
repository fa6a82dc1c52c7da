#include "trainer/logging/progress.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace bitlab {
namespace trainer {

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  // Past this the count of days no longer fits the int64 below; nobody waits that long anyway.
  if (seconds > 1e15) return "?";
  const int64_t total = std::llround(seconds);
  const int64_t days = total / 86400, hours = total / 3600 % 24;
  const int64_t minutes = total / 60 % 60, secs = total % 60;
  if (days > 0) return absl::StrFormat("%dd%02dh", days, hours);
  if (hours > 0) return absl::StrFormat("%dh%02dm", hours, minutes);
  if (minutes > 0) return absl::StrFormat("%dm%02ds", minutes, secs);
  return absl::StrFormat("%ds", secs);
}

double eta_seconds(const ProgressState& state) {
  if (state.total_steps <= 0 || !(state.steps_per_second > 0)) return -1.0;
  const int64_t left = std::max<int64_t>(state.total_steps - state.step, 0);
  return static_cast<double>(left) / state.steps_per_second;
}

std::string format_progress_line(const ProgressState& state) {
  std::vector<std::string> fields;
  if (state.total_steps > 0) {
    const int64_t percent = std::clamp<int64_t>(state.step * 100 / state.total_steps, 0, 100);
    fields.push_back(
        absl::StrCat("step ", state.step, "/", state.total_steps, " (", percent, "%)"));
  } else {
    fields.push_back(absl::StrCat("step ", state.step));
  }
  if (state.total_epochs > 0) {
    fields.push_back(absl::StrCat("epoch ", state.epoch, "/", state.total_epochs));
  } else if (state.epoch > 0) {
    fields.push_back(absl::StrCat("epoch ", state.epoch));
  }
  if (!std::isnan(state.loss)) fields.push_back(absl::StrFormat("loss %.4f", state.loss));
  if (!std::isnan(state.accuracy)) {
    fields.push_back(absl::StrFormat("acc %.2f%%", 100.0 * state.accuracy));
  }
  if (state.steps_per_second > 0) {
    // Slow steps (big models on a CPU) need the second digit to be more than "0.0".
    const char* format = state.steps_per_second < 1 ? "%.2f steps/s" : "%.1f steps/s";
    fields.push_back(absl::StrFormat(format, state.steps_per_second));
  }
  const double eta = eta_seconds(state);
  if (eta >= 0) fields.push_back(absl::StrCat("ETA ", format_duration(eta)));
  return absl::StrJoin(fields, " | ");
}

std::string format_progress_bar(const ProgressState& state, int width) {
  if (state.total_steps <= 0 || width <= 0) return "";
  const double fraction = std::clamp(
      static_cast<double>(state.step) / static_cast<double>(state.total_steps), 0.0, 1.0);
  // Rounded down, so that the bar is full only when the run is done.
  const int filled = static_cast<int>(fraction * width);
  return absl::StrCat("[", std::string(filled, '#'), std::string(width - filled, '.'), "]");
}

namespace {

bool is_terminal(std::FILE* out) { return ::isatty(::fileno(out)) == 1; }

}  // namespace

ProgressReporter::ProgressReporter(const ProgressOptions& options, std::FILE* out)
    : options_(options),
      out_(out),
      bar_(options.mode == ProgressMode::kBar ||
           (options.mode == ProgressMode::kAuto && is_terminal(out))) {
  state_.total_steps = options.total_steps;
  state_.total_epochs = options.total_epochs;
}

ProgressReporter::~ProgressReporter() { finish(); }

void ProgressReporter::update(int64_t step, int64_t epoch, double loss, double accuracy) {
  const Clock::time_point now = Clock::now();
  if (!started_) {
    started_ = true;
    first_step_ = step;
    first_time_ = now;
  }
  const double elapsed = std::chrono::duration<double>(now - first_time_).count();
  state_.step = step;
  state_.epoch = epoch;
  state_.loss = loss;
  state_.accuracy = accuracy;
  state_.steps_per_second = elapsed > 0 ? static_cast<double>(step - first_step_) / elapsed : 0.0;
  shown_ = false;

  const bool last = options_.total_steps > 0 && step >= options_.total_steps;
  bool due;
  if (bar_) {
    due =
        last || !bar_line_open_ ||
        std::chrono::duration<double>(now - last_draw_time_).count() >= options_.min_redraw_seconds;
  } else {
    due = last || (options_.log_every > 0 && step % options_.log_every == 0);
  }
  if (due) {
    last_draw_time_ = now;
    draw();
  }
}

void ProgressReporter::finish() {
  if (started_ && !shown_) draw();
  if (bar_line_open_) {
    std::fputc('\n', out_);
    std::fflush(out_);
    bar_line_open_ = false;
    last_bar_length_ = 0;
  }
}

void ProgressReporter::draw() {
  shown_ = true;
  const std::string line = format_progress_line(state_);
  if (!bar_) {
    std::fprintf(out_, "%s\n", line.c_str());
    std::fflush(out_);
    return;
  }
  const std::string bar = format_progress_bar(state_);
  std::string text = bar.empty() ? line : absl::StrCat(bar, " ", line);
  const size_t length = text.size();
  // A shorter line (say, the ETA went from "1h02m" to "59m59s") would leave the old line's
  // tail on screen; spaces blank it without relying on terminal escape codes.
  if (length < last_bar_length_) text.append(last_bar_length_ - length, ' ');
  last_bar_length_ = length;
  std::fprintf(out_, "\r%s", text.c_str());
  std::fflush(out_);
  bar_line_open_ = true;
}

}  // namespace trainer
}  // namespace bitlab
