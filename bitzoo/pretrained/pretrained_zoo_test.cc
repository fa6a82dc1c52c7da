// The shipped pretrained models: their files match the manifests compiled into the code, a
// tampered copy is refused, and every model loaded by name reproduces the metric its card
// records (the whole Fashion-MNIST test set through the deployed image models; held-out text
// perplexity for the language model).
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "bitcore/errors.h"
#include "bitcore/io/sha256.h"
#include "bitmodels/auto_bit_model.h"
#include "bitmodels/manifest.h"
#include "bitzoo/pretrained/shipped.h"
#include "trainer/bit_trainer.h"
#include "trainer/data/datasets.h"
#include "trainer/data/image_dataset.h"
#include "trainer/lm/perplexity.h"

namespace bitlab {
namespace bitzoo {
namespace {

using ::testing::HasSubstr;

namespace fs = std::filesystem;

// The language model's held-out text (Debian's base-files; see its card) and the SHA-256 of the
// bytes its perplexity was measured on.
constexpr char kHeldOutText[] = "/usr/share/common-licenses/MPL-2.0";
constexpr char kHeldOutSha256[] =
    "fab3dd6bdab226f1c08630b1dd917e11fcb4ec5e1e020e2c16f83a0a13863e85";

std::string read_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::ostringstream bytes;
  bytes << file.rdbuf();
  return bytes.str();
}

// Each test loads through its own empty cache, so the shipped files are what gets checked.
std::string fresh_cache(const std::string& name) {
  const std::string cache = std::string(std::getenv("TEST_TMPDIR")) + "/cache-" + name;
  fs::remove_all(cache);
  setenv("BITLAB_CACHE", cache.c_str(), 1);
  return cache;
}

TEST(PretrainedZooTest, ShipsTheZoosModels) {
  std::set<std::string> shipped;
  for (const PretrainedSource& source : shipped_pretrained()) shipped.insert(source.name);
  for (const char* name : {"gpt-licenses", "lenet5-fmnist", "mlp-fmnist", "resnet18-fmnist",
                           "resnet20-fmnist", "vit-tiny-fmnist"}) {
    EXPECT_EQ(shipped.count(name), 1u) << name << " is not shipped";
    EXPECT_NE(PretrainedRegistry::find(name), nullptr) << name << " is not registered";
  }
}

TEST(PretrainedZooTest, ShippedFilesMatchTheCompiledInManifests) {
  for (const PretrainedSource& source : shipped_pretrained()) {
    SCOPED_TRACE(source.name);
    ASSERT_FALSE(source.shipped_dir.empty());
    EXPECT_NO_THROW(source.manifest.verify(source.shipped_dir));
    // The manifest beside the files says the same as the one in the code.
    EXPECT_EQ(Manifest::read(source.shipped_dir + "/manifest.json").to_json(),
              source.manifest.to_json());
    for (const char* file : {"recipe.json", "train.sh"}) {
      EXPECT_TRUE(fs::exists(source.shipped_dir + "/" + file)) << file << " is not shipped";
    }
  }
}

TEST(PretrainedZooTest, TamperedCopyIsRefused) {
  const PretrainedSource* shipped = PretrainedRegistry::find("mlp-fmnist");
  ASSERT_NE(shipped, nullptr);
  const std::string copy = std::string(std::getenv("TEST_TMPDIR")) + "/tampered-mlp";
  fs::remove_all(copy);
  fs::create_directories(copy);
  for (const ManifestFile& file : shipped->manifest.files) {
    fs::copy_file(shipped->shipped_dir + "/" + file.file, copy + "/" + file.file);
  }
  {
    std::fstream weights(copy + "/model.safetensors",
                         std::ios::in | std::ios::out | std::ios::binary);
    weights.seekg(-1, std::ios::end);
    const char last = static_cast<char>(weights.get());
    weights.seekp(-1, std::ios::end);
    weights.put(static_cast<char>(last ^ 0x01));
  }
  PretrainedSource tampered = *shipped;
  tampered.shipped_dir = copy;
  const std::string cache = fresh_cache("tampered");
  try {
    fetch_pretrained(tampered);
    FAIL() << "a tampered model.safetensors was installed";
  } catch (const BitLabError& e) {
    EXPECT_THAT(e.what(), HasSubstr(copy + "/model.safetensors"));
    EXPECT_THAT(e.what(), HasSubstr("does not match the manifest"));
  }
  EXPECT_FALSE(fs::exists(cache + "/mlp-fmnist/model.safetensors"));

  // A changed file in the cache is replaced by the verified shipped one before use.
  const std::string installed = fetch_pretrained(*shipped);
  std::ofstream(installed + "/model.safetensors", std::ios::binary | std::ios::app) << "x";
  EXPECT_NO_THROW(shipped->manifest.verify(fetch_pretrained(*shipped)));
}

// The number the card's table shows for `metric`, as ModelCard writes it.
void expect_card_records(const PretrainedSource& source, const std::string& metric) {
  const std::string card = read_file(source.shipped_dir + "/README.md");
  std::ostringstream row;
  row << "| " << metric << " | " << source.manifest.metrics.at(metric) << " |";
  EXPECT_THAT(card, HasSubstr(row.str()));
}

TEST(PretrainedZooTest, ImageModelsReachTheAccuracyOfTheirCards) {
  fresh_cache("accuracy");
  const trainer::ImageClassificationData test =
      trainer::load_dataset("fashion_mnist", /*data_dir=*/"", "test");
  trainer::LoaderOptions loading;
  loading.batch_size = 100;
  loading.shuffle = false;
  const trainer::BatchLoader loader(trainer::ImageDataset(test), loading);
  int checked = 0;
  for (const PretrainedSource& source : shipped_pretrained()) {
    if (source.manifest.metrics.count("test_accuracy") == 0) continue;
    SCOPED_TRACE(source.name);
    ASSERT_EQ(source.manifest.dataset, "fashion_mnist");
    expect_card_records(source, "test_accuracy");
    std::shared_ptr<BitModel> model = AutoBitModel::from_pretrained(source.name);
    const trainer::EvalResult result =
        trainer::evaluate_model(*model, loader, {trainer::accuracy_metric()});
    EXPECT_EQ(result.samples, 10000);
    EXPECT_NEAR(result.values.at("eval_accuracy"), source.manifest.metrics.at("test_accuracy"),
                0.001);
    ++checked;
  }
  EXPECT_GE(checked, 3);
}

TEST(PretrainedZooTest, LanguageModelsReachThePerplexityOfTheirCards) {
  fresh_cache("perplexity");
  int checked = 0;
  for (const PretrainedSource& source : shipped_pretrained()) {
    if (source.manifest.metrics.count("heldout_perplexity") == 0) continue;
    SCOPED_TRACE(source.name);
    expect_card_records(source, "heldout_perplexity");
    const std::string text = read_file(kHeldOutText);
    if (sha256_hex(text.data(), text.size()) != kHeldOutSha256) {
      GTEST_SKIP() << "the held-out text " << kHeldOutText << " is missing or not the one "
                   << "measured (SHA-256 " << kHeldOutSha256 << "); install base-files 12.4";
    }
    std::shared_ptr<BitModel> model = AutoBitModel::from_pretrained(source.name);
    std::vector<int64_t> ids;
    for (const char c : text) ids.push_back(static_cast<unsigned char>(c));
    const at::Tensor bytes = at::tensor(ids, at::kLong);
    const int64_t context = model->config.architecture.at("context_length").get<int64_t>();
    const double perplexity = trainer::heldout_perplexity(*model, bytes, context);
    const double recorded = source.manifest.metrics.at("heldout_perplexity");
    EXPECT_NEAR(perplexity, recorded, 0.01 * recorded);
    ++checked;
  }
  EXPECT_GE(checked, 1);
}

}  // namespace
}  // namespace bitzoo
}  // namespace bitlab
