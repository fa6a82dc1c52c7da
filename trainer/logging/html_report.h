// A training run's report as one self-contained HTML file: charts of the curves (inline SVG,
// one polyline per series, axes with tick labels), a table of the final metrics and a table of
// the run's configuration. No scripts, no external CSS or fonts, so it opens anywhere, from an
// email attachment as well as from the run's directory. The file is written atomically, so a
// browser refreshing it never sees half a report.
//
// Example:
//   bitlab::trainer::RunReport report;
//   report.title = "mlp on fashion-mnist";
//   report.charts = {
//       {"loss", {{"train", {{100, 0.9}, {200, 0.6}}}, {"eval", {{200, 0.7}}}}},
//       {"accuracy", {{"train", {{100, 0.70}, {200, 0.80}}}, {"eval", {{200, 0.78}}}}},
//   };
//   report.final_metrics = {{"eval/accuracy", 0.78}};
//   report.config = nlohmann::json{{"lr", 0.001}, {"model", "mlp"}};
//   bitlab::trainer::write_html_report("/runs/a/report.html", report);
#ifndef BITLAB_TRAINER_LOGGING_HTML_REPORT_H_
#define BITLAB_TRAINER_LOGGING_HTML_REPORT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace bitlab {
namespace trainer {

struct CurvePoint {
  int64_t step = 0;
  double value = 0.0;
};

/// One line of a chart, e.g. "train" or "eval". Points with a NaN or infinite value are left
/// out of the drawing.
struct CurveSeries {
  std::string label;
  std::vector<CurvePoint> points;
};

/// One chart: steps on the x axis, the series' values on the y axis, which `title` names.
struct Chart {
  std::string title;
  std::vector<CurveSeries> series;
};

struct RunReport {
  std::string title = "Training report";
  /// Typically "loss" and "accuracy", each with a "train" and an "eval" series.
  std::vector<Chart> charts;
  /// Name -> value, shown in this order.
  std::vector<std::pair<std::string, double>> final_metrics;
  /// The run's configuration; nested objects are shown as dotted keys ("optimizer.lr").
  nlohmann::json config = nlohmann::json::object();
};

/// `text` with &, <, >, " and ' replaced by character references, for HTML and SVG text and
/// attribute values.
std::string html_escape(std::string_view text);

/// Evenly spaced round values (1, 2 or 5 times a power of ten apart) covering [low, high],
/// about `target_count` of them; the first is <= low and the last >= high.
std::vector<double> nice_ticks(double low, double high, int target_count = 5);

/// One chart as an `<svg>` element `width` x `height` pixels.
std::string render_svg_chart(const Chart& chart, int width = 640, int height = 320);

/// The whole report as an HTML document.
std::string render_html_report(const RunReport& report);

/// Writes render_html_report(report) to `path`, atomically. Throws BitLabError naming the
/// file when it cannot be written.
void write_html_report(const std::string& path, const RunReport& report);

}  // namespace trainer
}  // namespace bitlab

#endif  // BITLAB_TRAINER_LOGGING_HTML_REPORT_H_
