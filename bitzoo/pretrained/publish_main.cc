// publish: turns a finished training run and its float32 twin into a shipped zoo entry,
// bitzoo/pretrained/<name>/: the deployed model (config.json, model.safetensors, manifest.json)
// and its model card (README.md) with both runs' metrics, file sizes, CPU latencies from
// pretrained_latency_benchmark, and how it was trained (train.sh and recipe.json, which stay in
// the directory beside the card, as does notes.md: more for the card, when there is any).
//
//   bazel run //bitzoo/pretrained:publish -- --name=lenet5-fmnist
//     --ternary_run=runs/lenet5-ternary --twin_run=runs/lenet5-float32
//     --latency=latency.json --out=bitzoo/pretrained/lenet5-fmnist
//
// A run directory is what //trainer:train or //trainer/lm:train_lm leaves: its deployed/
// subdirectory holds the model and the metrics measured on it.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "bitcore/errors.h"
#include "bitlayers/memory_report.h"
#include "bitmodels/auto_bit_model.h"
#include "bitmodels/config_fields.h"
#include "bitmodels/json_file.h"
#include "bitmodels/manifest.h"

ABSL_FLAG(std::string, name, "", "the pretrained name, e.g. resnet18-fmnist");
ABSL_FLAG(std::string, ternary_run, "", "run directory of the ternary model");
ABSL_FLAG(std::string, twin_run, "", "run directory of its float32 twin (same recipe)");
ABSL_FLAG(std::string, latency, "", "pretrained_latency_benchmark JSON output (optional)");
ABSL_FLAG(std::string, out, "", "the zoo directory to write, holding train.sh and recipe.json");

namespace bitlab {
namespace {

std::string read_text(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw BitLabError(absl::StrCat("cannot read ", path));
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

std::string require_flag(const absl::Flag<std::string>& flag, const char* name) {
  std::string value = absl::GetFlag(flag);
  if (value.empty()) throw ConfigError(absl::StrCat("--", name, " is required"));
  return value;
}

// "93.12%" for accuracies, the plain value for the rest (perplexity).
std::string format_metric(const std::string& metric, double value) {
  if (metric.find("accuracy") != std::string::npos) return absl::StrFormat("%.2f%%", 100 * value);
  return absl::StrFormat("%.4f", value);
}

std::string cpu_model() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown CPU";
}

// Median milliseconds per forward of each "latency/<name>/<variant>/batch:<n>" row.
std::map<std::string, double> latency_rows(const nlohmann::json& json, const std::string& path,
                                           const std::string& name) {
  std::map<std::string, double> rows;
  const std::string prefix = "latency/" + name + "/";
  for (const nlohmann::json& row : json.at("benchmarks")) {
    // UseRealTime() rows are named ".../batch:1/real_time".
    const std::string run(
        absl::StripSuffix(row.value("run_name", row.value("name", "")), "/real_time"));
    if (run.rfind(prefix, 0) != 0) continue;
    const std::string aggregate = row.value("aggregate_name", "");
    if (!aggregate.empty() && aggregate != "median") continue;
    if (row.value("time_unit", "") != "ms") {
      throw BitLabError(absl::StrCat(path, ": row ", run, " is not in milliseconds"));
    }
    rows[run.substr(prefix.size())] = row.at("real_time").get<double>();
  }
  return rows;
}

std::string latency_section(const std::string& path, const std::string& name) {
  const nlohmann::json json = read_json_file(path, "--latency");
  const std::map<std::string, double> rows = latency_rows(json, path, name);
  std::string text =
      "## CPU latency\n\n| batch | deployed (ms) | float32 twin (ms) | float32 / deployed |\n"
      "| --- | --- | --- | --- |\n";
  for (const char* batch : {"batch:1", "batch:32"}) {
    const auto deployed = rows.find(absl::StrCat("deployed/", batch));
    const auto float32 = rows.find(absl::StrCat("float32/", batch));
    if (deployed == rows.end() || float32 == rows.end()) {
      throw BitLabError(absl::StrCat(path, ": no latency/", name, "/{deployed,float32}/", batch,
                                     " rows; run pretrained_latency_benchmark for this model"));
    }
    absl::StrAppend(&text, "| ", batch + 6, " | ", absl::StrFormat("%.3f", deployed->second), " | ",
                    absl::StrFormat("%.3f", float32->second), " | ",
                    absl::StrFormat("%.2fx", float32->second / deployed->second), " |\n");
  }
  const nlohmann::json context = json.value("context", nlohmann::json::object());
  absl::StrAppend(&text, "\nMedian of repeated runs of one forward over `example_input(batch)`, ",
                  "measured on ", cpu_model(), " (", context.value("num_cpus", 0), " CPUs, ",
                  context.value("libtorch_threads", std::string("?")),
                  " libtorch thread(s)) by\n\n",
                  "```sh\nbazel run -c opt //bitzoo/pretrained:pretrained_latency_benchmark -- "
                  "--benchmark_repetitions=5 --benchmark_report_aggregates_only=true\n```\n\n");
  return text;
}

// The size of the run's model.safetensors, as its manifest lists it.
int64_t weights_bytes(const Manifest& manifest, const std::string& dir) {
  const ManifestFile* weights = manifest.find("model.safetensors");
  if (weights == nullptr) {
    throw BitLabError(absl::StrCat(dir, "/manifest.json: lists no model.safetensors"));
  }
  return weights->size;
}

std::string card_notes(const std::string& name, const Manifest& ternary, const Manifest& twin,
                       int64_t ternary_bytes, int64_t twin_bytes, const std::string& out) {
  std::string text = "## Ternary model against its float32 twin\n\n";
  absl::StrAppend(&text, "The float32 twin is the same architecture trained unconverted with the ",
                  "same recipe (`--precision=float32`).\n\n",
                  "| | ternary, deployed | float32 twin |\n| --- | --- | --- |\n");
  for (const auto& [metric, value] : ternary.metrics) {
    const auto other = twin.metrics.find(metric);
    absl::StrAppend(&text, "| ", metric, " | ", format_metric(metric, value), " | ",
                    other == twin.metrics.end() ? "-" : format_metric(metric, other->second),
                    " |\n");
  }
  absl::StrAppend(&text, "| model.safetensors | ", format_bytes(ternary_bytes), " | ",
                  format_bytes(twin_bytes), " (",
                  absl::StrFormat("%.1fx", static_cast<double>(twin_bytes) / ternary_bytes),
                  " larger) |\n\n");
  if (const std::string latency = absl::GetFlag(FLAGS_latency); !latency.empty()) {
    absl::StrAppend(&text, latency_section(latency, name));
  }
  absl::StrAppend(&text, "## How it was trained\n\n`train.sh` in this directory, run from the ",
                  "repository root, trains both models and publishes this entry:\n\n```sh\n",
                  read_text(out + "/train.sh"), "```\n\n`recipe.json` (a TrainingConfig):\n\n",
                  "```json\n", read_text(out + "/recipe.json"), "```\n");
  // What the entry's author adds: targets missed and what was tried.
  if (std::ifstream(out + "/notes.md").good()) {
    absl::StrAppend(&text, "\n", read_text(out + "/notes.md"));
  }
  return text;
}

void publish() {
  const std::string name = require_flag(FLAGS_name, "name");
  const std::string ternary_dir = require_flag(FLAGS_ternary_run, "ternary_run") + "/deployed";
  const std::string twin_dir = require_flag(FLAGS_twin_run, "twin_run") + "/deployed";
  const std::string out = require_flag(FLAGS_out, "out");
  const Manifest ternary = Manifest::read(ternary_dir + "/manifest.json");
  const Manifest twin = Manifest::read(twin_dir + "/manifest.json");
  twin.verify(twin_dir);
  std::shared_ptr<BitModel> model = AutoBitModel::from_pretrained(ternary_dir);
  if (model->config.precision != "ternary") {
    throw ConfigError(absl::StrCat("--ternary_run: ", ternary_dir, " holds a ",
                                   model->config.precision, " model"));
  }
  SaveOptions save;
  save.name = name;
  save.dataset = ternary.dataset;
  save.metrics = ternary.metrics;
  for (const auto& [metric, value] : twin.metrics) save.metrics["fp32_twin_" + metric] = value;
  save.training_recipe = "`recipe.json` with `train.sh` (below)";
  save.notes = card_notes(name, ternary, twin, weights_bytes(ternary, ternary_dir),
                          weights_bytes(twin, twin_dir), out);
  AutoBitModel::save_pretrained(*model, out, save);
  std::printf("published %s to %s\n", name.c_str(), out.c_str());
}

}  // namespace
}  // namespace bitlab

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("publishes a trained run and its float32 twin as a zoo entry");
  absl::ParseCommandLine(argc, argv);
  try {
    bitlab::publish();
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "publish: %s\n", e.what());
    return 1;
  }
}
