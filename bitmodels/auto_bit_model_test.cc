// AutoBitModel: building from configs, save_pretrained -> from_pretrained round trips, and the
// errors a corrupted, altered or mismatched saved model gives.
#include "bitmodels/auto_bit_model.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include <torch/nn/modules/linear.h>
#include <torch/types.h>

#include "bitcore/io/safetensors.h"
#include "bitlayers/converter.h"
#include "bitmodels/config_fields.h"
#include "bitmodels/manifest.h"
#include "bitmodels/model_weights.h"
#include "bitmodels/pretrained.h"
#include "bitmodels/testing_models.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace bitlab {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

void run(const std::string& command) { ASSERT_EQ(std::system(command.c_str()), 0) << command; }

// An empty directory under the test's temporary directory.
std::string tmp_dir(const std::string& name) {
  const std::string dir = std::string(std::getenv("TEST_TMPDIR")) + "/" + name;
  run("rm -rf '" + dir + "' && mkdir -p '" + dir + "'");
  return dir;
}

AutoBitConfig mlp_config() {
  return AutoBitConfig::from_json({{"model_type", "test_mlp"},
                                   {"quant_config", "ai8pc_wpt"},
                                   {"architecture", {{"in_features", 8}, {"num_classes", 4}}}});
}

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const BitLabError& e) {
    return e.what();
  }
  return "(no BitLabError)";
}

void flip_byte(const std::string& path, long offset_from_end) {
  std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
  file.seekg(-offset_from_end, std::ios::end);
  char c;
  file.get(c);
  file.seekp(-offset_from_end, std::ios::end);
  file.put(static_cast<char>(c ^ 0x5a));
}

TEST(AutoBitModelTest, FromConfigConvertsPerTheArchitecturesRules) {
  ConversionReport report;
  auto model = AutoBitModel::from_config(mlp_config(), &report);
  EXPECT_EQ(report.num_converted, 1);  // layers.0; layers.2 is the classifier kept in float32
  EXPECT_EQ(report.find("layers.2")->status, ConversionStatus::kKept);
  EXPECT_EQ(model->forward(model->example_input(2)).sizes(), (std::vector<int64_t>{2, 4}));
  EXPECT_EQ(model->config.model_type, "test_mlp");

  AutoBitConfig all_ternary = mlp_config();
  all_ternary.keep_float = std::vector<std::string>{};
  AutoBitModel::from_config(all_ternary, &report);
  EXPECT_EQ(report.num_converted, 2);

  AutoBitConfig float32 = mlp_config();
  float32.precision = "float32";
  auto baseline = AutoBitModel::from_config(float32);
  const auto mlp = std::dynamic_pointer_cast<testing::TestMlp>(baseline);
  ASSERT_TRUE(mlp);
  EXPECT_TRUE(mlp->layers[0]->as<torch::nn::Linear>() != nullptr);
}

TEST(AutoBitModelTest, ConfigErrorsNameTypeAndField) {
  AutoBitConfig unknown = mlp_config();
  unknown.model_type = "resnet9000";
  EXPECT_THAT(error_of([&] { AutoBitModel::from_config(unknown); }),
              AllOf(HasSubstr("unknown model_type 'resnet9000'"), HasSubstr("test_mlp")));
  AutoBitConfig typo = mlp_config();
  typo.architecture["hiden"] = 4;
  EXPECT_THAT(
      error_of([&] { AutoBitModel::from_config(typo); }),
      AllOf(HasSubstr("model_type 'test_mlp': architecture"), HasSubstr("unknown field 'hiden'")));
}

TEST(AutoBitModelTest, SavePretrainedRoundTripsInBothStates) {
  for (bool deployed : {false, true}) {
    torch::manual_seed(3);
    auto model = AutoBitModel::from_config(mlp_config());
    if (deployed) deploy_bit_layers(*model);
    model->eval();
    const torch::Tensor x = model->example_input(5);
    const std::string dir = tmp_dir(deployed ? "deployed" : "trainable");
    SaveOptions options;
    options.name = "mlp";
    options.training_recipe = "one SGD step";
    options.metrics = {{"acc", 0.5}};
    AutoBitModel::save_pretrained(*model, dir, options);
    const Manifest manifest = Manifest::read(dir + "/manifest.json");
    EXPECT_EQ(manifest.files.size(), 3u);
    EXPECT_EQ(manifest.metrics.at("acc"), 0.5);

    auto loaded = AutoBitModel::from_pretrained(dir);
    EXPECT_FALSE(loaded->is_training());
    EXPECT_EQ(is_model_deployed(*loaded), deployed);
    EXPECT_TRUE(torch::equal(loaded->forward(x), model->forward(x))) << "deployed " << deployed;
    // A weights file alone, with its config beside it.
    auto from_file = AutoBitModel::from_pretrained(dir + "/model.safetensors");
    EXPECT_TRUE(torch::equal(from_file->forward(x), model->forward(x)));
    std::ifstream card(dir + "/README.md");
    const std::string text((std::istreambuf_iterator<char>(card)),
                           std::istreambuf_iterator<char>());
    EXPECT_THAT(text, AllOf(HasSubstr("# mlp"), HasSubstr("test_mlp"), HasSubstr("one SGD step")));
  }
}

TEST(AutoBitModelTest, TrainableWeightsSaveNoPackedCaches) {
  auto model = AutoBitModel::from_config(mlp_config());
  model->eval();
  model->forward(model->example_input(1));  // packs layers.0
  const std::string dir = tmp_dir("no_caches");
  save_model_weights(*model, dir + "/w.safetensors");
  const SafetensorsContents contents = load_safetensors(dir + "/w.safetensors");
  EXPECT_TRUE(contents.contains("layers.0.weight"));
  EXPECT_FALSE(contents.contains("layers.0.qweight"));
}

TEST(AutoBitModelTest, CorruptedOrAlteredFilesAreRefused) {
  auto model = AutoBitModel::from_config(mlp_config());
  const std::string dir = tmp_dir("corrupt");
  AutoBitModel::save_pretrained(*model, dir);
  const std::string weights = dir + "/model.safetensors";
  flip_byte(weights, 3);
  EXPECT_THAT(error_of([&] { AutoBitModel::from_pretrained(dir); }),
              AllOf(HasSubstr(weights), HasSubstr("does not match the manifest")));

  // A manifest whose sha256 is wrong for an intact file.
  AutoBitModel::save_pretrained(*model, dir);
  Manifest manifest = Manifest::read(dir + "/manifest.json");
  manifest.files[1].sha256 = std::string(64, '0');
  manifest.write(dir);
  EXPECT_THAT(error_of([&] { AutoBitModel::from_pretrained(dir); }),
              AllOf(HasSubstr("model.safetensors"), HasSubstr(std::string(64, '0'))));

  // Truncated.
  AutoBitModel::save_pretrained(*model, dir);
  std::string bytes;
  {
    std::ifstream in(weights, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  std::ofstream(weights, std::ios::binary | std::ios::trunc) << bytes.substr(0, bytes.size() / 2);
  EXPECT_THAT(error_of([&] { AutoBitModel::from_pretrained(dir); }),
              AllOf(HasSubstr(weights), HasSubstr("size")));
  // Without the manifest, the safetensors reader still catches it.
  std::remove((dir + "/manifest.json").c_str());
  EXPECT_THAT(error_of([&] { AutoBitModel::from_pretrained(dir); }), HasSubstr(weights));
}

TEST(AutoBitModelTest, MissingUnexpectedAndMisshapenTensorsAreNamed) {
  auto model = AutoBitModel::from_config(mlp_config());
  const std::string dir = tmp_dir("tensors");
  AutoBitModel::save_pretrained(*model, dir);
  const std::string weights = dir + "/model.safetensors";
  SafetensorsContents contents = load_safetensors(weights);
  std::remove((dir + "/manifest.json").c_str());

  auto without = contents.tensors;
  without.erase(without.begin());
  const std::string dropped = contents.tensors.front().first;
  save_safetensors(weights, without, contents.metadata);
  EXPECT_THAT(error_of([&] { AutoBitModel::from_pretrained(weights); }),
              AllOf(HasSubstr(weights), HasSubstr("missing tensor '" + dropped + "'")));

  auto extra = contents.tensors;
  extra.emplace_back("layers.9.weight", torch::zeros({2}));
  save_safetensors(weights, extra, contents.metadata);
  EXPECT_THAT(error_of([&] { AutoBitModel::from_pretrained(weights); }),
              HasSubstr("unexpected tensor 'layers.9.weight'"));

  // The config now says 5 classes; the weights have 4.
  save_safetensors(weights, contents.tensors, contents.metadata);
  AutoBitConfig five = mlp_config();
  five.architecture["num_classes"] = 5;
  const std::string text = five.to_json().dump();
  std::ofstream(dir + "/config.json", std::ios::trunc) << text;
  EXPECT_THAT(error_of([&] { AutoBitModel::from_pretrained(weights); }),
              AllOf(HasSubstr("tensor 'layers.2.weight' is Float [4, 16]"),
                    HasSubstr("expects Float [5, 16]")));
}

TEST(AutoBitModelTest, NamedWeightsGoThroughTheCacheAndWorkOffline) {
  const std::string shipped = tmp_dir("shipped/test-mlp");
  const std::string cache = tmp_dir("cache");
  setenv("BITLAB_CACHE", cache.c_str(), 1);
  auto model = AutoBitModel::from_config(mlp_config());
  model->eval();
  const torch::Tensor x = model->example_input(3);
  AutoBitModel::save_pretrained(*model, shipped);
  PretrainedRegistry::add({"test-mlp", Manifest::read(shipped + "/manifest.json"), shipped});

  auto loaded = AutoBitModel::from_pretrained("test-mlp");
  EXPECT_TRUE(torch::equal(loaded->forward(x), model->forward(x)));
  std::ifstream cached(cache + "/test-mlp/model.safetensors");
  EXPECT_TRUE(cached.good());

  // Offline, from the cache alone.
  run("rm -rf '" + shipped + "'");
  EXPECT_TRUE(
      torch::equal(AutoBitModel::from_pretrained("test-mlp")->forward(x), model->forward(x)));

  // A cached file that changed, with nothing shipped to reinstall: refused, naming it.
  flip_byte(cache + "/test-mlp/model.safetensors", 2);
  EXPECT_THAT(error_of([] { AutoBitModel::from_pretrained("test-mlp"); }),
              AllOf(HasSubstr("test-mlp/model.safetensors"), HasSubstr("sha256")));

  // A shipped file that differs from the code's manifest never enters the cache.
  AutoBitModel::save_pretrained(*model, tmp_dir("shipped/test-mlp"));
  flip_byte(shipped + "/config.json", 2);
  EXPECT_THAT(error_of([] { AutoBitModel::from_pretrained("test-mlp"); }),
              AllOf(HasSubstr(shipped + "/config.json"), HasSubstr("refusing to install")));

  EXPECT_THAT(error_of([] { AutoBitModel::from_pretrained("no-such-model"); }),
              AllOf(HasSubstr("'no-such-model'"), HasSubstr("test-mlp")));
}

}  // namespace
}  // namespace bitlab
