// ConfigFields: typed, validated reads of one JSON object of a model config, with errors that
// name the field and where it came from, and a check that no field went unread (a misspelled
// field is an error, not a silent default).
//
// Example:
//   bitlab::ConfigFields fields(json["architecture"], "resnet18/config.json: architecture");
//   int64_t classes = fields.get_int("num_classes", 1000, /*min=*/1);
//   std::string stem = fields.get_choice("stem", "imagenet", {"imagenet", "small"});
//   fields.check_all_read();   // throws ConfigError naming any unknown field
#ifndef BITLAB_BITMODELS_CONFIG_FIELDS_H_
#define BITLAB_BITMODELS_CONFIG_FIELDS_H_

#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bitcore/errors.h"

namespace bitlab {

/// A config file or field is invalid.
class ConfigError : public BitLabError {
 public:
  using BitLabError::BitLabError;
};

class ConfigFields {
 public:
  /// `object` must be a JSON object (or null: no fields). `context` prefixes every message,
  /// e.g. "config.json: architecture".
  ConfigFields(nlohmann::json object, std::string context);

  bool has(const std::string& name) const;
  /// The field as it is (nullptr when absent), marked read, for values parsed elsewhere.
  const nlohmann::json* get_raw(const std::string& name) { return find(name); }

  /// An integer in [min, max]; `fallback` when absent.
  int64_t get_int(const std::string& name, int64_t fallback,
                  int64_t min = std::numeric_limits<int64_t>::min(),
                  int64_t max = std::numeric_limits<int64_t>::max());
  /// A number (integers accepted) in [min, max].
  double get_double(const std::string& name, double fallback,
                    double min = -std::numeric_limits<double>::infinity(),
                    double max = std::numeric_limits<double>::infinity());
  bool get_bool(const std::string& name, bool fallback);
  std::string get_string(const std::string& name, const std::string& fallback);
  /// One of `choices` (the message lists them).
  std::string get_choice(const std::string& name, const std::string& fallback,
                         const std::vector<std::string>& choices);
  /// A list of integers, each >= min.
  std::vector<int64_t> get_int_list(const std::string& name, const std::vector<int64_t>& fallback,
                                    int64_t min = std::numeric_limits<int64_t>::min());
  std::vector<double> get_double_list(const std::string& name, const std::vector<double>& fallback);
  std::vector<std::string> get_string_list(const std::string& name,
                                           const std::vector<std::string>& fallback);

  /// Throws ConfigError naming the fields that no get_* read, and the ones that were.
  void check_all_read() const;

  /// "<context>: field 'name'", for callers' own messages.
  std::string describe(const std::string& name) const;
  const std::string& context() const { return context_; }

 private:
  // The value of `name`, marked read; nullptr when absent.
  const nlohmann::json* find(const std::string& name);
  [[noreturn]] void fail(const std::string& name, const std::string& expected,
                         const nlohmann::json& got) const;

  nlohmann::json object_;
  std::string context_;
  std::set<std::string> read_;
};

}  // namespace bitlab

#endif  // BITLAB_BITMODELS_CONFIG_FIELDS_H_
