#include "bitmodels/auto_bit_config.h"

#include "absl/strings/str_cat.h"
#include "bitcore/errors.h"
#include "bitmodels/config_fields.h"
#include "bitmodels/json_file.h"

namespace bitlab {
namespace {

BitQuantConfig parse_quant_config(const nlohmann::json& value, const std::string& context) {
  try {
    if (value.is_string()) return BitQuantConfig::from_string(value.get<std::string>());
    if (value.is_object()) return BitQuantConfig::from_json(value);
  } catch (const BitLabError& e) {
    throw ConfigError(absl::StrCat(context, ": field 'quant_config': ", e.what()));
  }
  throw ConfigError(absl::StrCat(context,
                                 ": field 'quant_config' must be a compact string such as "
                                 "\"ai8pc_wpt\" or an object, got ",
                                 value.dump()));
}

ImageInput parse_image_input(const nlohmann::json& value, const std::string& context) {
  ConfigFields fields(value, context + ": image_input");
  ImageInput input;
  input.channels = fields.get_int("channels", input.channels, 1, 4);
  input.height = fields.get_int("height", input.height, 1, 1 << 16);
  input.width = fields.get_int("width", input.width, 1, 1 << 16);
  const std::vector<double> default_mean(input.channels, input.channels == 3 ? 0.0 : 0.5);
  input.mean = fields.get_double_list("mean", input.channels == 3 ? input.mean : default_mean);
  input.std = fields.get_double_list(
      "std", input.channels == 3 ? input.std : std::vector<double>(input.channels, 0.5));
  input.labels = fields.get_string_list("labels", {});
  fields.check_all_read();
  for (const auto* list : {&input.mean, &input.std}) {
    if (static_cast<int64_t>(list->size()) != input.channels) {
      throw ConfigError(absl::StrCat(
          context, ": image_input: field '", list == &input.mean ? "mean" : "std", "' needs ",
          input.channels, " values (one per channel), got ", list->size()));
    }
  }
  for (double s : input.std) {
    if (!(s > 0)) {
      throw ConfigError(absl::StrCat(context, ": image_input: field 'std' values must be > 0"));
    }
  }
  return input;
}

}  // namespace

AutoBitConfig AutoBitConfig::from_json(const nlohmann::json& json, const std::string& context) {
  ConfigFields fields(json, context);
  AutoBitConfig config;
  config.model_type = fields.get_string("model_type", "");
  if (config.model_type.empty()) {
    throw ConfigError(absl::StrCat(context, ": field 'model_type' is missing or empty"));
  }
  if (const nlohmann::json* quant = fields.get_raw("quant_config")) {
    config.quant_config = parse_quant_config(*quant, context);
  }
  config.precision = fields.get_choice("precision", "ternary", {"ternary", "float32"});
  if (fields.has("keep_float")) config.keep_float = fields.get_string_list("keep_float", {});
  if (const nlohmann::json* architecture = fields.get_raw("architecture")) {
    if (!architecture->is_object()) {
      throw ConfigError(absl::StrCat(context, ": field 'architecture' must be an object, got ",
                                     architecture->dump()));
    }
    config.architecture = *architecture;
  }
  if (const nlohmann::json* image_input = fields.get_raw("image_input")) {
    config.image_input = parse_image_input(*image_input, context);
  }
  config.tokenizer = fields.get_choice("tokenizer", "", {"", "byte"});
  fields.check_all_read();
  return config;
}

AutoBitConfig AutoBitConfig::from_file(const std::string& path) {
  return from_json(read_json_file(path, "config"), path);
}

nlohmann::json AutoBitConfig::to_json() const {
  nlohmann::json json;
  json["model_type"] = model_type;
  json["quant_config"] = quant_config.to_json();
  json["precision"] = precision;
  if (keep_float) json["keep_float"] = *keep_float;
  json["architecture"] = architecture;
  if (image_input) {
    json["image_input"] = {{"channels", image_input->channels}, {"height", image_input->height},
                           {"width", image_input->width},       {"mean", image_input->mean},
                           {"std", image_input->std},           {"labels", image_input->labels}};
  }
  if (!tokenizer.empty()) json["tokenizer"] = tokenizer;
  return json;
}

}  // namespace bitlab
