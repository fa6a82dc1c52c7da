#include "bitcore/quant_config.h"

#include <limits>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "bitcore/errors.h"

namespace bitlab {
namespace {

using ::testing::HasSubstr;

// Runs `fn`, expects a QuantizationError, and returns its message.
template <typename Fn>
std::string quantization_error_message(Fn fn) {
  try {
    fn();
  } catch (const QuantizationError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a QuantizationError";
  return "";
}

TEST(BitQuantConfigTest, DefaultsAreBitNetB158) {
  BitQuantConfig config;
  EXPECT_EQ(config.to_string(), "ai8pc_wpt");
  EXPECT_FLOAT_EQ(config.eps, 1e-5f);
  EXPECT_NO_THROW(config.validate());
}

TEST(BitQuantConfigTest, CompactStringsRoundTrip) {
  for (const char* s :
       {"ai8pt_wpt", "ai8pt_wpc", "ai8pc_wpt", "ai8pc_wpc", "af32_wpt", "af32_wpc"}) {
    EXPECT_EQ(BitQuantConfig::from_string(s).to_string(), s);
  }
  BitQuantConfig c = BitQuantConfig::from_string("ai8pt_wpc");
  EXPECT_EQ(c.activation_dtype, ActivationDtype::kInt8);
  EXPECT_EQ(c.activation_granularity, Granularity::kPerTensor);
  EXPECT_EQ(c.weight_granularity, Granularity::kPerChannel);
  EXPECT_EQ(BitQuantConfig::from_string("af32_wpt").activation_dtype, ActivationDtype::kFloat32);
}

TEST(BitQuantConfigTest, UnknownCompactStringListsValidOnes) {
  for (const char* bad : {"ai4_wpt", "ai8pc", "ai8pc_", "_wpt", "ai8pc_wpt_x", "", "AI8PC_WPT"}) {
    std::string message = quantization_error_message([&] { BitQuantConfig::from_string(bad); });
    EXPECT_THAT(message, HasSubstr(std::string("\"") + bad + "\"")) << bad;
    EXPECT_THAT(message,
                HasSubstr("ai8pt_wpt, ai8pt_wpc, ai8pc_wpt, ai8pc_wpc, af32_wpt, af32_wpc"));
  }
}

TEST(BitQuantConfigTest, EpsValidationNamesFieldAndValue) {
  for (float bad : {0.0f, -1e-5f, std::numeric_limits<float>::infinity(),
                    std::numeric_limits<float>::quiet_NaN()}) {
    BitQuantConfig config;
    config.eps = bad;
    std::string message = quantization_error_message([&] { config.validate(); });
    EXPECT_THAT(message, HasSubstr("BitQuantConfig.eps"));
    EXPECT_THAT(message, HasSubstr("expected a finite number > 0"));
  }
}

TEST(BitQuantConfigTest, OutOfRangeEnumIsRejectedByName) {
  BitQuantConfig config;
  config.weight_granularity = static_cast<Granularity>(7);
  std::string message = quantization_error_message([&] { config.validate(); });
  EXPECT_THAT(message, HasSubstr("BitQuantConfig.weight_granularity: got enum value 7"));
  EXPECT_THAT(message, HasSubstr("per_tensor, per_channel"));

  config = BitQuantConfig();
  config.activation_dtype = static_cast<ActivationDtype>(3);
  EXPECT_THAT(quantization_error_message([&] { config.validate(); }),
              HasSubstr("BitQuantConfig.activation_dtype: got enum value 3"));
}

TEST(BitQuantConfigTest, JsonRoundTripsEveryCombination) {
  for (Granularity wg : {Granularity::kPerTensor, Granularity::kPerChannel}) {
    for (Granularity ag : {Granularity::kPerTensor, Granularity::kPerChannel}) {
      for (ActivationDtype dt : {ActivationDtype::kFloat32, ActivationDtype::kInt8}) {
        BitQuantConfig config;
        config.weight_granularity = wg;
        config.activation_granularity = ag;
        config.activation_dtype = dt;
        config.eps = 3.25e-7f;
        nlohmann::json j = config.to_json();
        EXPECT_EQ(BitQuantConfig::from_json(j), config) << j.dump();
        EXPECT_EQ(BitQuantConfig::from_json(nlohmann::json::parse(j.dump())), config);
      }
    }
  }
}

TEST(BitQuantConfigTest, JsonFieldsAreNamedInErrors) {
  EXPECT_THAT(quantization_error_message([] {
                BitQuantConfig::from_json({{"weight_granularity", "per_row"}});
              }),
              HasSubstr("BitQuantConfig.weight_granularity: got \"per_row\", expected one of "
                        "\"per_tensor\", \"per_channel\""));
  EXPECT_THAT(quantization_error_message([] {
                BitQuantConfig::from_json({{"activation_granularity", 3}});
              }),
              HasSubstr("BitQuantConfig.activation_granularity: got 3"));
  EXPECT_THAT(
      quantization_error_message([] {
        BitQuantConfig::from_json({{"activation_dtype", "int4"}});
      }),
      HasSubstr("BitQuantConfig.activation_dtype: got \"int4\", expected one of \"float32\", "
                "\"int8\""));
  EXPECT_THAT(quantization_error_message([] {
                BitQuantConfig::from_json({{"eps", "small"}});
              }),
              HasSubstr("BitQuantConfig.eps: got \"small\""));
  EXPECT_THAT(quantization_error_message([] {
                BitQuantConfig::from_json({{"eps", -1.0}});
              }),
              HasSubstr("BitQuantConfig.eps: got -1"));
  EXPECT_THAT(quantization_error_message([] {
                BitQuantConfig::from_json({{"epsilon", 1e-5}});
              }),
              HasSubstr("unknown field \"epsilon\""));
  EXPECT_THAT(
      quantization_error_message([] { BitQuantConfig::from_json(nlohmann::json::array()); }),
      HasSubstr("expected a JSON object, got array"));
}

TEST(BitQuantConfigTest, JsonMissingFieldsTakeDefaults) {
  BitQuantConfig config = BitQuantConfig::from_json({{"weight_granularity", "per_channel"}});
  BitQuantConfig expected;
  expected.weight_granularity = Granularity::kPerChannel;
  EXPECT_EQ(config, expected);
  EXPECT_EQ(BitQuantConfig::from_json(nlohmann::json::object()), BitQuantConfig());
}

TEST(BitQuantConfigTest, Presets) {
  EXPECT_EQ(BitQuantConfig::for_mobile().to_string(), "ai8pt_wpt");
  EXPECT_EQ(BitQuantConfig::for_server().to_string(), "ai8pc_wpc");
  EXPECT_EQ(BitQuantConfig::for_research().to_string(), "af32_wpc");
}

}  // namespace
}  // namespace bitlab
