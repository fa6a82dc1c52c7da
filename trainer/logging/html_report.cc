#include "trainer/logging/html_report.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bitcore/io/atomic_file.h"

namespace bitlab {
namespace trainer {
namespace {

// One color per series, in order (train, eval, then any others); a colorblind-safe palette.
constexpr const char* kSeriesColors[] = {"#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9"};

// Series with at most this many points also get a dot per point, so that an evaluation run
// once (a single point, an invisible polyline) still shows.
constexpr size_t kMaxPointsWithMarkers = 30;

constexpr const char* kStyle = R"(
body { font-family: sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.5em; }
h2 { font-size: 1.2em; margin-top: 1.5em; }
svg { margin: 0.5em 1em 0.5em 0; border: 1px solid #ddd; background: #fff; }
svg text { font-size: 11px; fill: #444; }
svg .title { font-size: 13px; font-weight: bold; fill: #222; }
table { border-collapse: collapse; }
td, th { border: 1px solid #ccc; padding: 0.25em 0.75em; text-align: left; }
td.number { text-align: right; font-family: monospace; }
)";

// Tick labels and table numbers: short, and no "0.30000000000000004".
std::string format_number(double value) { return absl::StrFormat("%.6g", value); }

// The range [low, high] of the finite values `get` returns for the points of all series, or
// false when there are none.
template <typename Get>
bool value_range(const Chart& chart, Get get, double* low, double* high) {
  *low = std::numeric_limits<double>::infinity();
  *high = -std::numeric_limits<double>::infinity();
  for (const CurveSeries& series : chart.series) {
    for (const CurvePoint& point : series.points) {
      if (!std::isfinite(point.value)) continue;
      *low = std::min(*low, get(point));
      *high = std::max(*high, get(point));
    }
  }
  return *low <= *high;
}

// Maps data values in [ticks.front(), ticks.back()] linearly to pixels in [from, to].
struct Axis {
  std::vector<double> ticks;
  double from, to;
  double pixel(double value) const {
    return from + (value - ticks.front()) / (ticks.back() - ticks.front()) * (to - from);
  }
};

// Adds `key` (dotted for nested objects) = `value` rows of the configuration table.
void append_config_rows(const std::string& key, const nlohmann::json& value, std::string* rows) {
  if (value.is_object() && !value.empty()) {
    for (const auto& [child, child_value] : value.items()) {
      append_config_rows(key.empty() ? child : absl::StrCat(key, ".", child), child_value, rows);
    }
    return;
  }
  const std::string text =
      value.is_string() ? value.get<std::string>()
                        : value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  absl::StrAppend(rows, "<tr><td>", html_escape(key), "</td><td>", html_escape(text),
                  "</td></tr>\n");
}

}  // namespace

std::string html_escape(std::string_view text) {
  std::string escaped;
  escaped.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        escaped += "&amp;";
        break;
      case '<':
        escaped += "&lt;";
        break;
      case '>':
        escaped += "&gt;";
        break;
      case '"':
        escaped += "&quot;";
        break;
      case '\'':
        escaped += "&#39;";
        break;
      default:
        escaped += c;
    }
  }
  return escaped;
}

std::vector<double> nice_ticks(double low, double high, int target_count) {
  if (!(low <= high) || !std::isfinite(low) || !std::isfinite(high)) return {0.0, 1.0};
  if (low == high) {
    // One value: a band around it, so that it is drawn in the middle rather than on an edge.
    const double half = low == 0 ? 1.0 : std::abs(low) * 0.1;
    low -= half;
    high += half;
  }
  // The round step nearest (on a log scale) to the range split `target_count` ways: the
  // thresholds are the geometric means of 1, 2, 5 and 10.
  const double raw_step = (high - low) / std::max(target_count, 1);
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw_step)));
  const double error = raw_step / magnitude;
  const double factor = error >= std::sqrt(50.0)   ? 10
                        : error >= std::sqrt(10.0) ? 5
                        : error >= std::sqrt(2.0)  ? 2
                                                   : 1;
  const double step = factor * magnitude;
  std::vector<double> ticks;
  const int64_t first = static_cast<int64_t>(std::floor(low / step));
  const int64_t last = static_cast<int64_t>(std::ceil(high / step));
  // Multiplying (rather than adding step again and again) keeps 0.1 * 3 from drifting.
  for (int64_t i = first; i <= last; ++i) ticks.push_back(static_cast<double>(i) * step);
  return ticks;
}

std::string render_svg_chart(const Chart& chart, int width, int height) {
  // Room for the title and legend above, tick labels to the left and below.
  const double left = 60, right = width - 15, top = 36, bottom = height - 36;
  std::string svg = absl::StrFormat(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
      "viewBox=\"0 0 %d %d\">\n",
      width, height, width, height);
  absl::StrAppend(&svg, "<text class=\"title\" x=\"", left, "\" y=\"16\">",
                  html_escape(chart.title), "</text>\n");

  double x_low, x_high, y_low, y_high;
  const bool has_data =
      value_range(
          chart, [](const CurvePoint& p) { return double(p.step); }, &x_low, &x_high) &&
      value_range(
          chart, [](const CurvePoint& p) { return p.value; }, &y_low, &y_high);
  if (!has_data) {
    absl::StrAppendFormat(&svg,
                          "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">no data</text>\n",
                          (left + right) / 2, (top + bottom) / 2);
    absl::StrAppend(&svg, "</svg>\n");
    return svg;
  }
  const Axis x{nice_ticks(x_low, x_high, 6), left, right};
  const Axis y{nice_ticks(y_low, y_high, 5), bottom, top};

  // Grid lines and tick labels, then the axes over them.
  for (double tick : y.ticks) {
    absl::StrAppendFormat(&svg,
                          "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>"
                          "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
                          left, y.pixel(tick), right, y.pixel(tick), left - 6, y.pixel(tick) + 4,
                          format_number(tick));
  }
  for (double tick : x.ticks) {
    absl::StrAppendFormat(&svg,
                          "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#888\"/>"
                          "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n",
                          x.pixel(tick), bottom, x.pixel(tick), bottom + 4, x.pixel(tick),
                          bottom + 16, format_number(tick));
  }
  absl::StrAppendFormat(&svg,
                        "<polyline fill=\"none\" stroke=\"#888\" points=\"%.1f,%.1f %.1f,%.1f "
                        "%.1f,%.1f\"/>\n",
                        left, top, left, bottom, right, bottom);
  absl::StrAppendFormat(&svg, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">step</text>\n",
                        (left + right) / 2, height - 4);

  auto color_of = [](size_t s) {
    return kSeriesColors[s % (sizeof(kSeriesColors) / sizeof(kSeriesColors[0]))];
  };
  double legend_x = right;  // legend entries run leftwards from the right edge
  for (size_t s = chart.series.size(); s-- > 0;) {
    const std::string& label = chart.series[s].label;
    // The text's width is estimated: SVG has no layout without a script.
    legend_x -= 7.0 * static_cast<double>(label.size()) + 34;
    absl::StrAppendFormat(&svg,
                          "<line x1=\"%.1f\" y1=\"12\" x2=\"%.1f\" y2=\"12\" stroke=\"%s\" "
                          "stroke-width=\"2\"/><text x=\"%.1f\" y=\"16\">%s</text>\n",
                          legend_x, legend_x + 20, color_of(s), legend_x + 24, html_escape(label));
  }
  for (size_t s = 0; s < chart.series.size(); ++s) {
    const CurveSeries& series = chart.series[s];
    std::string points, markers;
    size_t count = 0;
    for (const CurvePoint& point : series.points) {
      if (!std::isfinite(point.value)) continue;
      const double px = x.pixel(static_cast<double>(point.step)), py = y.pixel(point.value);
      absl::StrAppendFormat(&points, "%s%.1f,%.1f", points.empty() ? "" : " ", px, py);
      absl::StrAppendFormat(&markers, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"/>", px,
                            py, color_of(s));
      ++count;
    }
    absl::StrAppend(&svg, "<polyline class=\"series\" data-label=\"", html_escape(series.label),
                    "\" fill=\"none\" stroke=\"", color_of(s), "\" stroke-width=\"1.5\" points=\"",
                    points, "\"/>\n");
    if (count <= kMaxPointsWithMarkers) absl::StrAppend(&svg, markers, "\n");
  }
  absl::StrAppend(&svg, "</svg>\n");
  return svg;
}

std::string render_html_report(const RunReport& report) {
  const std::string title = html_escape(report.title);
  std::string html = absl::StrCat("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n",
                                  "<meta charset=\"utf-8\">\n<title>", title, "</title>\n<style>",
                                  kStyle, "</style>\n</head>\n<body>\n<h1>", title, "</h1>\n");
  if (!report.charts.empty()) {
    absl::StrAppend(&html, "<div class=\"charts\">\n");
    for (const Chart& chart : report.charts) absl::StrAppend(&html, render_svg_chart(chart));
    absl::StrAppend(&html, "</div>\n");
  }
  if (!report.final_metrics.empty()) {
    absl::StrAppend(&html, "<h2>Final metrics</h2>\n<table>\n");
    for (const auto& [name, value] : report.final_metrics) {
      absl::StrAppend(&html, "<tr><td>", html_escape(name), "</td><td class=\"number\">",
                      format_number(value), "</td></tr>\n");
    }
    absl::StrAppend(&html, "</table>\n");
  }
  if (!report.config.empty()) {
    std::string rows;
    append_config_rows("", report.config, &rows);
    absl::StrAppend(&html, "<h2>Configuration</h2>\n<table>\n", rows, "</table>\n");
  }
  absl::StrAppend(&html, "</body>\n</html>\n");
  return html;
}

void write_html_report(const std::string& path, const RunReport& report) {
  const std::string html = render_html_report(report);
  write_file_atomically(path, {{html.data(), html.size()}});
}

}  // namespace trainer
}  // namespace bitlab
