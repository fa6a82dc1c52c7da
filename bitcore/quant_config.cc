#include "bitcore/quant_config.h"

#include <cmath>
#include <string>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bitcore/errors.h"

namespace bitlab {
namespace {

// The compact strings, in the order error messages list them.
constexpr const char* kActivationCodes[] = {"ai8pt", "ai8pc", "af32"};
constexpr const char* kWeightCodes[] = {"wpt", "wpc"};

std::string valid_compact_strings() {
  std::vector<std::string> all;
  for (const char* act : kActivationCodes) {
    for (const char* weight : kWeightCodes) all.push_back(absl::StrCat(act, "_", weight));
  }
  return absl::StrJoin(all, ", ");
}

Granularity parse_granularity(const nlohmann::json& value, const char* field) {
  if (value == "per_tensor") return Granularity::kPerTensor;
  if (value == "per_channel") return Granularity::kPerChannel;
  throw QuantizationError(absl::StrCat("BitQuantConfig.", field, ": got ", value.dump(),
                                       ", expected one of \"per_tensor\", \"per_channel\""));
}

ActivationDtype parse_dtype(const nlohmann::json& value) {
  if (value == "float32") return ActivationDtype::kFloat32;
  if (value == "int8") return ActivationDtype::kInt8;
  throw QuantizationError(absl::StrCat("BitQuantConfig.activation_dtype: got ", value.dump(),
                                       ", expected one of \"float32\", \"int8\""));
}

}  // namespace

const char* to_string(Granularity granularity) {
  switch (granularity) {
    case Granularity::kPerTensor:
      return "per_tensor";
    case Granularity::kPerChannel:
      return "per_channel";
  }
  return "invalid";
}

const char* to_string(ActivationDtype dtype) {
  switch (dtype) {
    case ActivationDtype::kFloat32:
      return "float32";
    case ActivationDtype::kInt8:
      return "int8";
  }
  return "invalid";
}

void BitQuantConfig::validate() const {
  // Enum fields can hold out-of-range values after a cast from an integer; say so by name.
  auto check_granularity = [](Granularity g, const char* field) {
    if (g != Granularity::kPerTensor && g != Granularity::kPerChannel) {
      throw QuantizationError(absl::StrCat("BitQuantConfig.", field, ": got enum value ",
                                           static_cast<int>(g),
                                           ", expected one of per_tensor, per_channel"));
    }
  };
  check_granularity(weight_granularity, "weight_granularity");
  check_granularity(activation_granularity, "activation_granularity");
  if (activation_dtype != ActivationDtype::kFloat32 && activation_dtype != ActivationDtype::kInt8) {
    throw QuantizationError(absl::StrCat("BitQuantConfig.activation_dtype: got enum value ",
                                         static_cast<int>(activation_dtype),
                                         ", expected one of float32, int8"));
  }
  if (!std::isfinite(eps) || eps <= 0.0f) {
    throw QuantizationError(absl::StrCat("BitQuantConfig.eps: got ", eps,
                                         ", expected a finite number > 0 (default 1e-5)"));
  }
}

std::string BitQuantConfig::to_string() const {
  validate();
  std::string act = activation_dtype == ActivationDtype::kFloat32       ? "af32"
                    : activation_granularity == Granularity::kPerTensor ? "ai8pt"
                                                                        : "ai8pc";
  const char* weight = weight_granularity == Granularity::kPerTensor ? "wpt" : "wpc";
  return absl::StrCat(act, "_", weight);
}

BitQuantConfig BitQuantConfig::from_string(std::string_view compact) {
  BitQuantConfig config;
  const size_t underscore = compact.find('_');
  const std::string_view act = compact.substr(0, underscore);
  const std::string_view weight =
      underscore == std::string_view::npos ? std::string_view() : compact.substr(underscore + 1);
  bool ok = true;
  if (act == "ai8pt") {
    config.activation_dtype = ActivationDtype::kInt8;
    config.activation_granularity = Granularity::kPerTensor;
  } else if (act == "ai8pc") {
    config.activation_dtype = ActivationDtype::kInt8;
    config.activation_granularity = Granularity::kPerChannel;
  } else if (act == "af32") {
    config.activation_dtype = ActivationDtype::kFloat32;
  } else {
    ok = false;
  }
  if (weight == "wpt") {
    config.weight_granularity = Granularity::kPerTensor;
  } else if (weight == "wpc") {
    config.weight_granularity = Granularity::kPerChannel;
  } else {
    ok = false;
  }
  if (!ok) {
    throw QuantizationError(absl::StrCat("unknown quantization config string \"",
                                         std::string(compact), "\"; valid ones are ",
                                         valid_compact_strings()));
  }
  return config;
}

nlohmann::json BitQuantConfig::to_json() const {
  validate();
  return nlohmann::json{
      {"weight_granularity", bitlab::to_string(weight_granularity)},
      {"activation_dtype", bitlab::to_string(activation_dtype)},
      {"activation_granularity", bitlab::to_string(activation_granularity)},
      {"eps", eps},
  };
}

BitQuantConfig BitQuantConfig::from_json(const nlohmann::json& json) {
  if (!json.is_object()) {
    throw QuantizationError(
        absl::StrCat("BitQuantConfig: expected a JSON object, got ", json.type_name()));
  }
  BitQuantConfig config;
  for (const auto& [key, value] : json.items()) {
    if (key == "weight_granularity") {
      config.weight_granularity = parse_granularity(value, "weight_granularity");
    } else if (key == "activation_granularity") {
      config.activation_granularity = parse_granularity(value, "activation_granularity");
    } else if (key == "activation_dtype") {
      config.activation_dtype = parse_dtype(value);
    } else if (key == "eps") {
      if (!value.is_number()) {
        throw QuantizationError(absl::StrCat("BitQuantConfig.eps: got ", value.dump(),
                                             ", expected a finite number > 0"));
      }
      config.eps = value.get<float>();
    } else {
      throw QuantizationError(absl::StrCat(
          "BitQuantConfig: unknown field \"", key,
          "\"; fields are weight_granularity, activation_dtype, activation_granularity, eps"));
    }
  }
  config.validate();
  return config;
}

BitQuantConfig BitQuantConfig::for_mobile() { return from_string("ai8pt_wpt"); }
BitQuantConfig BitQuantConfig::for_server() { return from_string("ai8pc_wpc"); }
BitQuantConfig BitQuantConfig::for_research() { return from_string("af32_wpc"); }

bool BitQuantConfig::operator==(const BitQuantConfig& other) const {
  return weight_granularity == other.weight_granularity &&
         activation_dtype == other.activation_dtype &&
         activation_granularity == other.activation_granularity && eps == other.eps;
}

}  // namespace bitlab
