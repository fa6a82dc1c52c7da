#include "bitmodels/auto_bit_model.h"

#include <sys/stat.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bitcore/errors.h"
#include "bitcore/io/atomic_file.h"
#include "bitmodels/config_fields.h"
#include "bitmodels/manifest.h"
#include "bitmodels/model_card.h"
#include "bitmodels/model_registry.h"
#include "bitmodels/model_weights.h"
#include "bitmodels/pretrained.h"

namespace bitlab {
namespace {

constexpr char kConfigFile[] = "config.json";
constexpr char kWeightsFile[] = "model.safetensors";
constexpr char kCardFile[] = "README.md";
constexpr char kManifestFile[] = "manifest.json";

bool is_directory(const std::string& path) {
  struct stat info;
  return ::stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
}

bool is_file(const std::string& path) {
  struct stat info;
  return ::stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode);
}

void write_text(const std::string& path, const std::string& text) {
  write_file_atomically(path, {{text.data(), text.size()}});
}

std::string base_name(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string parent_dir(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// Builds the model `dir`'s config describes and loads `weights` into it.
std::shared_ptr<BitModel> load_model(const std::string& dir, const std::string& weights) {
  const std::string config_path = dir + "/" + kConfigFile;
  if (!is_file(config_path)) {
    throw BitLabError(absl::StrCat("cannot load ", weights, ": no ", kConfigFile, " beside it (",
                                   config_path, ")"));
  }
  std::shared_ptr<BitModel> model =
      AutoBitModel::from_config(AutoBitConfig::from_file(config_path));
  load_model_weights(*model, weights);
  model->eval();
  return model;
}

std::shared_ptr<BitModel> load_directory(const std::string& dir) {
  const std::string manifest_path = dir + "/" + kManifestFile;
  if (is_file(manifest_path)) Manifest::read(manifest_path).verify(dir);
  return load_model(dir, dir + "/" + kWeightsFile);
}

}  // namespace

std::shared_ptr<BitModel> AutoBitModel::from_config(const AutoBitConfig& config,
                                                    ConversionReport* report) {
  const ModelType& type = ModelRegistry::get(config.model_type);
  ConfigFields fields(config.architecture,
                      absl::StrCat("model_type '", config.model_type, "': architecture"));
  std::shared_ptr<BitModel> model = type.build(fields);
  fields.check_all_read();
  model->config = config;
  if (config.precision == "ternary") {
    model->config.precision = "float32";
    ConversionReport converted = convert_to_ternary(*model, config);
    if (report != nullptr) *report = std::move(converted);
  }
  return model;
}

ConversionReport AutoBitModel::convert_to_ternary(BitModel& model, const AutoBitConfig& config) {
  if (config.precision != "ternary" || model.config.precision != "float32") {
    throw BitLabError(absl::StrCat("convert_to_ternary: converts a float32 model to ternary; got ",
                                   "a ", model.config.precision, " model and a ", config.precision,
                                   " config"));
  }
  std::vector<ConversionRule> rules;
  if (config.keep_float) {
    for (const std::string& pattern : *config.keep_float) {
      ConversionRule rule;
      rule.pattern = pattern;
      rule.keep_float = true;
      rule.name = "keep_float";
      rules.push_back(rule);
    }
  } else {
    rules = model.default_rules();
  }
  ConversionReport report = BitConverter::convert(model, config.quant_config, rules);
  model.config = config;
  return report;
}

std::shared_ptr<BitModel> AutoBitModel::from_config_file(const std::string& path) {
  return from_config(AutoBitConfig::from_file(path));
}

std::shared_ptr<BitModel> AutoBitModel::from_pretrained(const std::string& name_or_path) {
  if (is_directory(name_or_path)) return load_directory(name_or_path);
  if (is_file(name_or_path)) return load_model(parent_dir(name_or_path), name_or_path);
  if (const PretrainedSource* source = PretrainedRegistry::find(name_or_path)) {
    // fetch_pretrained checked every file against the code's manifest: no second pass.
    const std::string dir = fetch_pretrained(*source);
    return load_model(dir, dir + "/" + kWeightsFile);
  }
  const std::vector<std::string> names = PretrainedRegistry::names();
  throw BitLabError(absl::StrCat(
      "from_pretrained: '", name_or_path,
      "' is neither a directory, a file, nor the name of pretrained weights; known names: ",
      names.empty() ? "(none registered)" : absl::StrJoin(names, ", ")));
}

ConversionReport AutoBitModel::from_pytorch(torch::nn::Module& module, const BitQuantConfig& config,
                                            const std::vector<ConversionRule>& rules) {
  return BitConverter::convert(module, config, rules);
}

void AutoBitModel::save_pretrained(const BitModel& model, const std::string& dir,
                                   const SaveOptions& options) {
  if (model.config.model_type.empty()) {
    throw BitLabError(
        "save_pretrained: the model has no config (model_type is empty); build it with "
        "AutoBitModel::from_config, or set model->config");
  }
  make_directories(dir);
  const std::string name = options.name.empty() ? base_name(dir) : options.name;
  write_text(dir + "/" + kConfigFile, model.config.to_json().dump(2) + "\n");
  save_model_weights(model, dir + "/" + kWeightsFile,
                     {{"bitlab.model_type", model.config.model_type}});

  ModelCard card = ModelCard::describe(model, name);
  if (!options.training_recipe.empty()) card.training_recipe = options.training_recipe;
  card.dataset = options.dataset;
  card.metrics = options.metrics;
  card.speed = options.speed;
  card.notes = options.notes;
  write_text(dir + "/" + kCardFile, card.to_markdown());

  Manifest manifest = Manifest::describe(
      name, dir, {{kConfigFile, "json"}, {kWeightsFile, "safetensors"}, {kCardFile, "markdown"}});
  manifest.dataset = options.dataset;
  manifest.metrics = options.metrics;
  manifest.write(dir);
}

}  // namespace bitlab
