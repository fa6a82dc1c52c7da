// convert_checkpoint: a float32 checkpoint, as safetensors or as a libtorch archive, becomes the
// ternary model that converting the float model in memory gives; a checkpoint of another
// architecture, a damaged file or an unknown format is a BitLabError naming the file.
#include "export/checkpoint_converter.h"

#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>

#include <gtest/gtest.h>
#include <torch/serialize/output-archive.h>
#include <torch/types.h>

#include "bitcore/errors.h"
#include "bitmodels/auto_bit_model.h"
#include "bitmodels/config_fields.h"
#include "export/safetensors_export.h"

namespace bitlab {
namespace {

std::string temp_path(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return std::string(dir != nullptr ? dir : "/tmp") + "/" + name;
}

AutoBitConfig lenet5_config(const std::string& precision) {
  return AutoBitConfig::from_json(
      {{"model_type", "lenet5"}, {"quant_config", "ai8pc_wpc"}, {"precision", precision}});
}

// A float32 LeNet-5 "trained elsewhere": seeded weights, saved in both formats.
class CheckpointConverterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    torch::manual_seed(21);
    float_model_ = AutoBitModel::from_config(lenet5_config("float32"));
    export_float_safetensors(*float_model_, safetensors_path_);
    torch::serialize::OutputArchive archive;
    float_model_->save(archive);
    archive.save_to(archive_path_);
  }

  // Every name in `text` must appear in `message`.
  static void expect_error_naming(const std::string& checkpoint, const AutoBitConfig& config,
                                  const std::string& text) {
    try {
      convert_checkpoint(checkpoint, config);
      ADD_FAILURE() << checkpoint << ": converted without an error";
    } catch (const BitLabError& e) {
      EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
    }
  }

  std::shared_ptr<BitModel> float_model_;
  const std::string safetensors_path_ = temp_path("lenet5.safetensors");
  const std::string archive_path_ = temp_path("lenet5.pt");
};

TEST_F(CheckpointConverterTest, BothFormatsGiveTheInMemoryConversion) {
  const ConvertedCheckpoint from_safetensors =
      convert_checkpoint(safetensors_path_, lenet5_config("ternary"));
  const ConvertedCheckpoint from_archive =
      convert_checkpoint(archive_path_, lenet5_config("ternary"));
  const ConversionReport expected_report =
      AutoBitModel::convert_to_ternary(*float_model_, lenet5_config("ternary"));
  float_model_->eval();

  EXPECT_EQ(from_safetensors.model->config.precision, "ternary");
  EXPECT_EQ(from_safetensors.report.to_string(), expected_report.to_string());
  EXPECT_NE(expected_report.to_string().find("conv2"), std::string::npos);

  torch::NoGradGuard no_grad;
  const at::Tensor input = float_model_->example_input(4);
  const at::Tensor expected = float_model_->forward(input);
  EXPECT_GT(expected.abs().max().item<float>(), 0.0f);
  EXPECT_TRUE(torch::equal(from_safetensors.model->forward(input), expected));
  EXPECT_TRUE(torch::equal(from_archive.model->forward(input), expected));
}

TEST_F(CheckpointConverterTest, AnotherArchitectureIsNamed) {
  const AutoBitConfig mlp = AutoBitConfig::from_json({{"model_type", "mlp"}});
  expect_error_naming(safetensors_path_, mlp, safetensors_path_);
  expect_error_naming(archive_path_, mlp, archive_path_);
}

TEST_F(CheckpointConverterTest, DamagedOrUnknownFilesAreNamed) {
  const std::string junk = temp_path("junk.pt");
  std::ofstream(junk) << "not an archive";
  expect_error_naming(junk, lenet5_config("ternary"), junk);
  expect_error_naming(temp_path("missing.safetensors"), lenet5_config("ternary"),
                      "missing.safetensors");
  expect_error_naming(temp_path("weights.bin"), lenet5_config("ternary"), "weights.bin");
}

TEST_F(CheckpointConverterTest, FloatTargetIsAConfigError) {
  EXPECT_THROW(convert_checkpoint(safetensors_path_, lenet5_config("float32")), ConfigError);
}

}  // namespace
}  // namespace bitlab
