#include "trainer/logging/html_report.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace bitlab {
namespace trainer {
namespace {

size_t count_of(const std::string& text, const std::string& part) {
  size_t count = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) {
    ++count;
  }
  return count;
}

// The points="..." attribute of the polyline whose data-label is `label`, split at spaces.
std::vector<std::string> polyline_points(const std::string& svg, const std::string& label) {
  const size_t line = svg.find("<polyline class=\"series\" data-label=\"" + label + "\"");
  if (line == std::string::npos) return {};
  const size_t begin = svg.find("points=\"", line) + 8;
  const std::string points = svg.substr(begin, svg.find('"', begin) - begin);
  std::vector<std::string> result;
  std::istringstream in(points);
  for (std::string point; in >> point;) result.push_back(point);
  return result;
}

Chart loss_chart() {
  return {"loss",
          {{"train", {{0, 2.0}, {100, 1.0}, {200, 0.5}, {300, 0.25}}},
           {"eval", {{100, 1.2}, {300, std::numeric_limits<double>::quiet_NaN()}}}}};
}

TEST(HtmlEscape, ReplacesMarkup) {
  EXPECT_EQ(html_escape("a<b> & \"c\" 'd'"), "a&lt;b&gt; &amp; &quot;c&quot; &#39;d&#39;");
  EXPECT_EQ(html_escape("plain"), "plain");
}

TEST(NiceTicks, RoundStepsCoveringTheRange) {
  const std::vector<double> ticks = nice_ticks(0.13, 0.92, 5);
  // (0.92 - 0.13) / 5 = 0.158: the nearest round step is 0.2.
  ASSERT_EQ(ticks.size(), 6u);
  EXPECT_DOUBLE_EQ(ticks.front(), 0.0);
  EXPECT_DOUBLE_EQ(ticks[1], 0.2);
  EXPECT_DOUBLE_EQ(ticks.back(), 1.0);
  EXPECT_EQ(nice_ticks(0, 1000, 6), (std::vector<double>{0, 200, 400, 600, 800, 1000}));
  // One value: a band around it.
  const std::vector<double> single = nice_ticks(5, 5, 5);
  EXPECT_LT(single.front(), 5);
  EXPECT_GT(single.back(), 5);
}

TEST(RenderSvgChart, OnePolylinePerSeriesWithOnePointPerFiniteValue) {
  const std::string svg = render_svg_chart(loss_chart());
  EXPECT_EQ(svg.rfind("<svg ", 0), 0u);
  EXPECT_EQ(count_of(svg, "<polyline class=\"series\""), 2u);
  EXPECT_EQ(polyline_points(svg, "train").size(), 4u);
  EXPECT_EQ(polyline_points(svg, "eval").size(), 1u);  // the NaN is left out
  // Tick labels on both axes.
  EXPECT_NE(svg.find(">300</text>"), std::string::npos);
  EXPECT_NE(svg.find(">0.5</text>"), std::string::npos);
  EXPECT_NE(svg.find(">step</text>"), std::string::npos);
}

TEST(RenderSvgChart, PointsMapToThePlotArea) {
  const Chart chart = {"acc", {{"train", {{0, 0.0}, {100, 1.0}}}}};
  const std::vector<std::string> points =
      polyline_points(render_svg_chart(chart, 640, 320), "train");
  ASSERT_EQ(points.size(), 2u);
  // Lowest step and value at the bottom left of the plot area, highest at the top right.
  EXPECT_EQ(points[0], "60.0,284.0");
  EXPECT_EQ(points[1], "625.0,36.0");
}

TEST(RenderSvgChart, EmptyChartSaysNoData) {
  const std::string svg = render_svg_chart({"loss", {{"train", {}}}});
  EXPECT_NE(svg.find("no data"), std::string::npos);
  EXPECT_EQ(svg.find("<polyline"), std::string::npos);
}

TEST(RenderHtmlReport, SelfContainedWithChartsMetricsAndConfig) {
  RunReport report;
  report.title = "run <1> & co";
  report.charts = {loss_chart(), {"accuracy", {{"train", {{100, 0.5}, {200, 0.75}}}}}};
  report.final_metrics = {{"eval/accuracy", 0.8125}, {"<script>", 1}};
  report.config = {
      {"model", "mlp<b>"}, {"optimizer", {{"lr", 0.001}, {"name", "adam"}}}, {"layers", {64, 32}}};
  const std::string html = render_html_report(report);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_EQ(count_of(html, "<svg "), 2u);
  EXPECT_EQ(count_of(html, "<polyline class=\"series\""), 3u);
  // Nothing to fetch: no scripts, no stylesheets or images from elsewhere.
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_EQ(html.find("src="), std::string::npos);
  // Text is escaped wherever it appears.
  EXPECT_NE(html.find("<title>run &lt;1&gt; &amp; co</title>"), std::string::npos);
  EXPECT_NE(html.find("<td>&lt;script&gt;</td>"), std::string::npos);
  EXPECT_NE(html.find("<td>eval/accuracy</td><td class=\"number\">0.8125</td>"), std::string::npos);
  EXPECT_NE(html.find("<td>model</td><td>mlp&lt;b&gt;</td>"), std::string::npos);
  EXPECT_NE(html.find("<td>optimizer.lr</td><td>0.001</td>"), std::string::npos);
  EXPECT_NE(html.find("<td>layers</td><td>[64,32]</td>"), std::string::npos);
}

TEST(WriteHtmlReport, WritesTheRenderedReport) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string path = std::string(tmp != nullptr ? tmp : "/tmp") + "/report.html";
  RunReport report;
  report.charts = {loss_chart()};
  write_html_report(path, report);
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), render_html_report(report));
}

}  // namespace
}  // namespace trainer
}  // namespace bitlab
