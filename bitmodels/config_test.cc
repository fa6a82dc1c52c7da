// ConfigFields and AutoBitConfig: values read back, and every bad field named.
#include <fstream>
#include <string>

#include "bitmodels/auto_bit_config.h"
#include "bitmodels/config_fields.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace bitlab {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

// The message of the ConfigError `f` throws.
template <typename F>
std::string config_error(F&& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no ConfigError)";
}

TEST(ConfigFieldsTest, ReadsTypedValuesWithDefaults) {
  ConfigFields fields({{"n", 3}, {"x", 0.5}, {"on", true}, {"s", "small"}, {"l", {1, 2}}}, "cfg");
  EXPECT_EQ(fields.get_int("n", 0, 1, 10), 3);
  EXPECT_EQ(fields.get_int("absent", 7), 7);
  EXPECT_DOUBLE_EQ(fields.get_double("x", 0), 0.5);
  EXPECT_TRUE(fields.get_bool("on", false));
  EXPECT_EQ(fields.get_choice("s", "big", {"big", "small"}), "small");
  EXPECT_EQ(fields.get_int_list("l", {}), (std::vector<int64_t>{1, 2}));
  EXPECT_NO_THROW(fields.check_all_read());
}

TEST(ConfigFieldsTest, BadValuesNameTheFieldExpectedAndGot) {
  ConfigFields fields({{"n", 0}, {"s", "tiny"}, {"f", "x"}, {"l", {1, -2}}}, "model.json");
  EXPECT_THAT(config_error([&] { fields.get_int("n", 1, 1); }),
              AllOf(HasSubstr("model.json: field 'n'"), HasSubstr(">= 1"), HasSubstr("got 0")));
  EXPECT_THAT(
      config_error([&] {
        fields.get_choice("s", "a", {"imagenet", "small"});
      }),
      AllOf(HasSubstr("field 's'"), HasSubstr("\"imagenet\", \"small\""), HasSubstr("\"tiny\"")));
  EXPECT_THAT(config_error([&] { fields.get_double("f", 1); }), HasSubstr("field 'f'"));
  EXPECT_THAT(config_error([&] { fields.get_int_list("l", {}, 0); }), HasSubstr("field 'l'"));
}

TEST(ConfigFieldsTest, UnreadFieldsAreErrors) {
  ConfigFields fields({{"num_classes", 3}, {"num_clases", 4}}, "arch");
  fields.get_int("num_classes", 1);
  EXPECT_THAT(config_error([&] { fields.check_all_read(); }),
              AllOf(HasSubstr("unknown field 'num_clases'"), HasSubstr("num_classes")));
  EXPECT_THAT(config_error([] {
                ConfigFields({1, 2}, "arch");
              }),
              HasSubstr("expected a JSON object"));
}

TEST(AutoBitConfigTest, RoundTripsThroughJson) {
  const nlohmann::json json = {{"model_type", "resnet18"},
                               {"quant_config", "ai8pc_wpc"},
                               {"precision", "ternary"},
                               {"keep_float", {"^conv1$"}},
                               {"architecture", {{"num_classes", 10}}},
                               {"image_input",
                                {{"channels", 1},
                                 {"height", 28},
                                 {"width", 28},
                                 {"mean", {0.3}},
                                 {"std", {0.35}},
                                 {"labels", {"a", "b"}}}},
                               {"tokenizer", "byte"}};
  const AutoBitConfig config = AutoBitConfig::from_json(json);
  EXPECT_EQ(config.model_type, "resnet18");
  EXPECT_EQ(config.quant_config.to_string(), "ai8pc_wpc");
  ASSERT_TRUE(config.keep_float.has_value());
  EXPECT_EQ(config.architecture["num_classes"], 10);
  ASSERT_TRUE(config.image_input.has_value());
  EXPECT_EQ(config.image_input->labels.size(), 2u);
  const AutoBitConfig again = AutoBitConfig::from_json(config.to_json());
  EXPECT_EQ(again.to_json(), config.to_json());
}

TEST(AutoBitConfigTest, BadFieldsAreNamed) {
  EXPECT_THAT(config_error([] {
                AutoBitConfig::from_json({{"quant_config", "ai8pc_wpt"}});
              }),
              HasSubstr("'model_type' is missing"));
  EXPECT_THAT(config_error([] {
                AutoBitConfig::from_json({{"model_type", "mlp"}, {"quant_config", "ai4"}});
              }),
              HasSubstr("field 'quant_config'"));
  EXPECT_THAT(config_error([] {
                AutoBitConfig::from_json({{"model_type", "mlp"}, {"precision", "int4"}});
              }),
              HasSubstr("field 'precision'"));
  EXPECT_THAT(config_error([] {
                AutoBitConfig::from_json(
                    {{"model_type", "mlp"}, {"image_input", {{"channels", 3}, {"mean", {0.5}}}}});
              }),
              AllOf(HasSubstr("image_input"), HasSubstr("'mean' needs 3 values")));
  EXPECT_THAT(config_error([] {
                AutoBitConfig::from_json({{"model_type", "mlp"}, {"architectur", {}}});
              }),
              HasSubstr("unknown field 'architectur'"));
}

TEST(AutoBitConfigTest, FileErrorsNameTheFile) {
  const std::string path = std::string(getenv("TEST_TMPDIR")) + "/broken.json";
  std::ofstream(path) << "{\"model_type\": ";
  EXPECT_THAT(config_error([&] { AutoBitConfig::from_file(path); }),
              AllOf(HasSubstr(path), HasSubstr("not valid JSON")));
  EXPECT_THAT(config_error([] { AutoBitConfig::from_file("/nonexistent/config.json"); }),
              HasSubstr("/nonexistent/config.json"));
}

}  // namespace
}  // namespace bitlab
