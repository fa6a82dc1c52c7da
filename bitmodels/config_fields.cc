#include "bitmodels/config_fields.h"

#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace bitlab {

ConfigFields::ConfigFields(nlohmann::json object, std::string context)
    : object_(std::move(object)), context_(std::move(context)) {
  if (object_.is_null()) object_ = nlohmann::json::object();
  if (!object_.is_object()) {
    throw ConfigError(absl::StrCat(context_, ": expected a JSON object, got ", object_.dump()));
  }
}

bool ConfigFields::has(const std::string& name) const { return object_.contains(name); }

std::string ConfigFields::describe(const std::string& name) const {
  return absl::StrCat(context_, ": field '", name, "'");
}

const nlohmann::json* ConfigFields::find(const std::string& name) {
  read_.insert(name);
  const auto it = object_.find(name);
  return it == object_.end() ? nullptr : &*it;
}

void ConfigFields::fail(const std::string& name, const std::string& expected,
                        const nlohmann::json& got) const {
  throw ConfigError(absl::StrCat(describe(name), " must be ", expected, ", got ", got.dump()));
}

int64_t ConfigFields::get_int(const std::string& name, int64_t fallback, int64_t min, int64_t max) {
  const nlohmann::json* value = find(name);
  if (value == nullptr) return fallback;
  const std::string expected = max == std::numeric_limits<int64_t>::max()
                                   ? absl::StrCat("an integer >= ", min)
                                   : absl::StrCat("an integer in [", min, ", ", max, "]");
  if (!value->is_number_integer()) fail(name, expected, *value);
  const int64_t v = value->get<int64_t>();
  if (v < min || v > max) fail(name, expected, *value);
  return v;
}

double ConfigFields::get_double(const std::string& name, double fallback, double min, double max) {
  const nlohmann::json* value = find(name);
  if (value == nullptr) return fallback;
  const std::string expected = absl::StrCat("a number in [", min, ", ", max, "]");
  if (!value->is_number()) fail(name, expected, *value);
  const double v = value->get<double>();
  if (!std::isfinite(v) || v < min || v > max) fail(name, expected, *value);
  return v;
}

bool ConfigFields::get_bool(const std::string& name, bool fallback) {
  const nlohmann::json* value = find(name);
  if (value == nullptr) return fallback;
  if (!value->is_boolean()) fail(name, "true or false", *value);
  return value->get<bool>();
}

std::string ConfigFields::get_string(const std::string& name, const std::string& fallback) {
  const nlohmann::json* value = find(name);
  if (value == nullptr) return fallback;
  if (!value->is_string()) fail(name, "a string", *value);
  return value->get<std::string>();
}

std::string ConfigFields::get_choice(const std::string& name, const std::string& fallback,
                                     const std::vector<std::string>& choices) {
  const nlohmann::json* value = find(name);
  if (value == nullptr) return fallback;
  const std::string expected = absl::StrCat("one of \"", absl::StrJoin(choices, "\", \""), "\"");
  if (!value->is_string()) fail(name, expected, *value);
  const std::string v = value->get<std::string>();
  for (const std::string& choice : choices) {
    if (v == choice) return v;
  }
  fail(name, expected, *value);
}

std::vector<int64_t> ConfigFields::get_int_list(const std::string& name,
                                                const std::vector<int64_t>& fallback, int64_t min) {
  const nlohmann::json* value = find(name);
  if (value == nullptr) return fallback;
  const std::string expected = absl::StrCat("a list of integers >= ", min);
  if (!value->is_array()) fail(name, expected, *value);
  std::vector<int64_t> list;
  for (const nlohmann::json& item : *value) {
    if (!item.is_number_integer() || item.get<int64_t>() < min) fail(name, expected, *value);
    list.push_back(item.get<int64_t>());
  }
  return list;
}

std::vector<double> ConfigFields::get_double_list(const std::string& name,
                                                  const std::vector<double>& fallback) {
  const nlohmann::json* value = find(name);
  if (value == nullptr) return fallback;
  if (!value->is_array()) fail(name, "a list of numbers", *value);
  std::vector<double> list;
  for (const nlohmann::json& item : *value) {
    if (!item.is_number()) fail(name, "a list of numbers", *value);
    list.push_back(item.get<double>());
  }
  return list;
}

std::vector<std::string> ConfigFields::get_string_list(const std::string& name,
                                                       const std::vector<std::string>& fallback) {
  const nlohmann::json* value = find(name);
  if (value == nullptr) return fallback;
  if (!value->is_array()) fail(name, "a list of strings", *value);
  std::vector<std::string> list;
  for (const nlohmann::json& item : *value) {
    if (!item.is_string()) fail(name, "a list of strings", *value);
    list.push_back(item.get<std::string>());
  }
  return list;
}

void ConfigFields::check_all_read() const {
  std::vector<std::string> unknown;
  for (const auto& item : object_.items()) {
    if (read_.count(item.key()) == 0) unknown.push_back(item.key());
  }
  if (unknown.empty()) return;
  throw ConfigError(absl::StrCat(context_, ": unknown field", unknown.size() > 1 ? "s" : "", " '",
                                 absl::StrJoin(unknown, "', '"), "'; known fields: ",
                                 read_.empty() ? "(none)" : absl::StrJoin(read_, ", ")));
}

}  // namespace bitlab
