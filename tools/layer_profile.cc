#include "tools/layer_profile.h"

#include <algorithm>
#include <chrono>
#include <memory>

#include <ATen/record_function.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "bitcore/errors.h"

namespace bitlab {
namespace {

using Clock = std::chrono::steady_clock;

struct Event {
  std::string name;
  std::string input_shape;
  double milliseconds;
};

// The profiler's state lives on the profiling thread: RecordFunction callbacks are plain
// function pointers, and the callback is thread-local, so only that thread writes it.
thread_local int scope_depth = 0;
thread_local std::vector<Event>* recorded = nullptr;

struct ScopeStart : at::ObserverContext {
  Clock::time_point start;
  int depth = 0;
  // Read at the start: a scope's inputs need not outlive its start (a layer's scope may record
  // a temporary list of them).
  std::string input_shape;
};

std::string first_tensor_shape(const at::RecordFunction& fn) {
  for (const c10::IValue& input : fn.inputs()) {
    if (input.isTensor())
      return absl::StrCat("[", absl::StrJoin(input.toTensor().sizes(), ", "), "]");
  }
  return "";
}

std::unique_ptr<at::ObserverContext> on_start(const at::RecordFunction& fn) {
  auto context = std::make_unique<ScopeStart>();
  context->depth = scope_depth++;
  if (context->depth == 0) context->input_shape = first_tensor_shape(fn);
  context->start = Clock::now();
  return context;
}

void on_end(const at::RecordFunction& fn, at::ObserverContext* context) {
  const auto* start = static_cast<ScopeStart*>(context);
  --scope_depth;
  if (start->depth != 0 || recorded == nullptr) return;
  recorded->push_back(
      {fn.name(), start->input_shape,
       std::chrono::duration<double, std::milli>(Clock::now() - start->start).count()});
}

}  // namespace

std::vector<LayerTiming> profile_layers(const std::function<void()>& forward, int iterations) {
  std::vector<std::vector<Event>> runs(std::max(iterations, 1));
  const at::CallbackHandle handle = at::addThreadLocalCallback(
      at::RecordFunctionCallback(on_start, on_end)
          .needsInputs(true)
          .scopes({at::RecordScope::FUNCTION, at::RecordScope::USER_SCOPE}));
  try {
    for (std::vector<Event>& run : runs) {
      recorded = &run;
      forward();
    }
  } catch (...) {
    recorded = nullptr;
    at::removeCallback(handle);
    throw;
  }
  recorded = nullptr;
  at::removeCallback(handle);

  std::vector<LayerTiming> layers;
  for (size_t i = 0; i < runs[0].size(); ++i) {
    std::vector<double> times;
    for (const std::vector<Event>& run : runs) {
      if (run.size() != runs[0].size() || run[i].name != runs[0][i].name) {
        throw BitLabError(
            absl::StrCat("profile_layers: the forward ran different layers from one "
                         "run to the next (",
                         runs[0].size(), " scopes, then ", run.size(),
                         "); per-layer times need a fixed sequence"));
      }
      times.push_back(run[i].milliseconds);
    }
    std::sort(times.begin(), times.end());
    layers.push_back({runs[0][i].name, runs[0][i].input_shape, times[times.size() / 2]});
  }
  return layers;
}

std::string format_layer_profile(const std::vector<LayerTiming>& layers) {
  double total = 0;
  size_t name_width = 5;
  for (const LayerTiming& layer : layers) {
    total += layer.milliseconds;
    name_width = std::max(name_width, layer.name.size());
  }
  std::string table = absl::StrFormat("%4s  %-*s  %-20s %10s %7s\n", "#", name_width, "layer",
                                      "input", "ms", "share");
  for (size_t i = 0; i < layers.size(); ++i) {
    const LayerTiming& layer = layers[i];
    absl::StrAppendFormat(&table, "%4d  %-*s  %-20s %10.3f %6.1f%%\n", i + 1, name_width,
                          layer.name, layer.input_shape, layer.milliseconds,
                          total > 0 ? 100.0 * layer.milliseconds / total : 0.0);
  }
  absl::StrAppendFormat(&table, "%4s  %-*s  %-20s %10.3f %6.1f%%\n", "", name_width, "total", "",
                        total, 100.0);
  return table;
}

}  // namespace bitlab
