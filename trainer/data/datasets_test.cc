#include "trainer/data/datasets.h"

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <ATen/ops/bincount.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/full.h>
#include <ATen/ops/tensor.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "bitcore/errors.h"
#include "trainer/data/idx_reader.h"
#include "trainer/data/test_files.h"

namespace bitlab {
namespace trainer {
namespace {

using testdata::cifar_record;
using testdata::error_message;
using testdata::idx_bytes;
using testdata::ramp;
using testdata::temp_path;
using testdata::write_file;
using ::testing::AllOf;
using ::testing::HasSubstr;

// A directory in the test's temporary directory, created.
std::string make_dir(const std::string& name) {
  const std::string dir = temp_path(name);
  std::filesystem::create_directories(dir);
  return dir;
}

// An MNIST-style directory: `prefix` files with two 28 x 28 images and the given labels.
void write_idx_split(const std::string& dir, const std::string& prefix, const std::string& labels,
                     bool gzip) {
  const std::string gz = gzip ? ".gz" : "";
  const auto n = static_cast<uint32_t>(labels.size());
  write_file(dir + "/" + prefix + "-images-idx3-ubyte" + gz,
             idx_bytes(kIdxImagesMagic, {n, 28, 28}, ramp(n * 28 * 28)), gzip);
  write_file(dir + "/" + prefix + "-labels-idx1-ubyte" + gz,
             idx_bytes(kIdxLabelsMagic, {n}, labels), gzip);
}

TEST(LoadDatasetTest, LoadsTheInstalledFashionMnistTestSplit) {
  const ImageClassificationData data = load_dataset("fashion_mnist", "", "test");
  EXPECT_EQ(data.images.sizes(), (std::vector<int64_t>{10000, 1, 28, 28}));
  EXPECT_EQ(data.labels.sizes(), (std::vector<int64_t>{10000}));
  // Labels 0..9, 1000 of each.
  EXPECT_TRUE(at::equal(at::bincount(data.labels), at::full({10}, 1000, at::kLong)));
  ASSERT_EQ(data.num_classes(), 10);
  EXPECT_EQ(data.class_names.front(), "T-shirt/top");
  EXPECT_EQ(data.class_names.back(), "Ankle boot");
  EXPECT_EQ(data.mean, std::vector<double>{0.2860});
  EXPECT_EQ(data.stddev, std::vector<double>{0.3530});
  // The stated normalization fits the pixels.
  const at::Tensor pixels = data.images.to(at::kFloat) / 255;
  EXPECT_NEAR(pixels.mean().item<double>(), 0.2860, 0.005);
  EXPECT_NEAR(pixels.std().item<double>(), 0.3530, 0.005);
  ImageDataset dataset(data, standard_augmentation("fashion_mnist"));
  EXPECT_EQ(dataset.get(9999).data.sizes(), (std::vector<int64_t>{1, 28, 28}));
}

TEST(LoadDatasetTest, UnknownNameListsTheKnownOnes) {
  EXPECT_THAT(error_message([] { load_dataset("imagenet", "", "train"); }),
              AllOf(HasSubstr("unknown data set \"imagenet\""),
                    HasSubstr("fashion_mnist, mnist, cifar10, cifar100, synthetic")));
  EXPECT_THAT(error_message([] { standard_augmentation("imagenet"); }), HasSubstr("imagenet"));
}

TEST(LoadDatasetTest, UnknownSplit) {
  EXPECT_THAT(error_message([] { load_dataset("synthetic", "", "validation"); }),
              HasSubstr("unknown split \"validation\""));
}

TEST(LoadDatasetTest, MissingFilesNameThePathAndHowToGetThem) {
  const std::string dir = make_dir("empty_dir");
  EXPECT_THAT(error_message([&] { load_dataset("fashion_mnist", dir, "test"); }),
              AllOf(HasSubstr(dir + "/t10k-images-idx3-ubyte.gz"),
                    HasSubstr("apt-get install dataset-fashion-mnist"), HasSubstr("--data_dir")));
  EXPECT_THAT(error_message([&] { load_dataset("mnist", dir, "train"); }),
              AllOf(HasSubstr(dir + "/train-images-idx3-ubyte"), HasSubstr("--data_dir")));
  EXPECT_THAT(error_message([&] { load_dataset("cifar10", dir, "train"); }),
              AllOf(HasSubstr(dir + "/data_batch_1.bin"),
                    HasSubstr(dir + "/cifar-10-batches-bin/data_batch_1.bin"),
                    HasSubstr("cifar-10-binary.tar.gz")));
  if (!std::filesystem::exists("/usr/share/datasets/mnist")) {
    EXPECT_THAT(error_message([] { load_dataset("mnist", "", "test"); }),
                HasSubstr("/usr/share/datasets/mnist/t10k-images-idx3-ubyte"));
  }
}

TEST(LoadDatasetTest, CifarNeedsADataDir) {
  for (const char* name : {"cifar10", "cifar100"}) {
    EXPECT_THAT(error_message([&] { load_dataset(name, "", "test"); }),
                AllOf(HasSubstr("no default data directory"), HasSubstr("--data_dir")));
  }
}

TEST(LoadDatasetTest, LoadsMnistFromADataDirPlainOrGzip) {
  const std::string dir = make_dir("mnist");
  write_idx_split(dir, "train", "\x01\x02\x09", /*gzip=*/false);
  write_idx_split(dir, "t10k", std::string("\x00\x07", 2), /*gzip=*/true);
  const ImageClassificationData train = load_dataset("mnist", dir, "train");
  EXPECT_TRUE(at::equal(train.labels, at::tensor({1, 2, 9}, at::kLong)));
  EXPECT_EQ(train.class_names[9], "9");
  EXPECT_EQ(train.mean, std::vector<double>{0.1307});
  EXPECT_EQ(train.stddev, std::vector<double>{0.3081});
  const ImageClassificationData test = load_dataset("mnist", dir, "test");
  EXPECT_EQ(test.images.sizes(), (std::vector<int64_t>{2, 1, 28, 28}));
  EXPECT_TRUE(at::equal(test.labels, at::tensor({0, 7}, at::kLong)));
}

TEST(LoadDatasetTest, RejectsIdxLabelsOutOfRange) {
  const std::string dir = make_dir("mnist_bad_label");
  write_idx_split(dir, "t10k", "\x03\x0a", /*gzip=*/true);
  EXPECT_THAT(error_message([&] { load_dataset("mnist", dir, "test"); }),
              AllOf(HasSubstr("load_dataset(mnist, test)"), HasSubstr("sample 1 has label 10"),
                    HasSubstr("expected 0..9")));
}

TEST(LoadDatasetTest, LoadsCifar10FromTheUnpackedDirectoryOrItsParent) {
  const std::string root = make_dir("cifar10_root");
  const std::string dir = make_dir("cifar10_root/cifar-10-batches-bin");
  for (int b = 1; b <= 5; ++b) {
    write_file(dir + "/data_batch_" + std::to_string(b) + ".bin",
               cifar_record({static_cast<uint8_t>(b)}, b));
  }
  write_file(dir + "/test_batch.bin", cifar_record({0}, 0) + cifar_record({9}, 0));
  for (const std::string& data_dir : {root, dir}) {
    const ImageClassificationData train = load_dataset("cifar10", data_dir, "train");
    EXPECT_EQ(train.images.sizes(), (std::vector<int64_t>{5, 3, 32, 32}));
    EXPECT_TRUE(at::equal(train.labels, at::tensor({1, 2, 3, 4, 5}, at::kLong)));
    EXPECT_EQ(train.class_names[0], "airplane");
    EXPECT_EQ(train.mean, (std::vector<double>{0.4914, 0.4822, 0.4465}));
    EXPECT_EQ(train.stddev, (std::vector<double>{0.2470, 0.2435, 0.2616}));
    EXPECT_TRUE(
        at::equal(load_dataset("cifar10", data_dir, "test").labels, at::tensor({0, 9}, at::kLong)));
  }
  // One batch missing.
  std::filesystem::remove(dir + "/data_batch_4.bin");
  EXPECT_THAT(error_message([&] { load_dataset("cifar10", dir, "train"); }),
              AllOf(HasSubstr(dir + "/data_batch_4.bin"), HasSubstr("missing")));
}

TEST(LoadDatasetTest, LoadsCifar100FineLabels) {
  const std::string dir = make_dir("cifar-100-binary");
  write_file(dir + "/test.bin", cifar_record({4, 99}, 0) + cifar_record({0, 0}, 0));
  const ImageClassificationData test = load_dataset("cifar100", dir, "test");
  EXPECT_TRUE(at::equal(test.labels, at::tensor({99, 0}, at::kLong)));
  ASSERT_EQ(test.num_classes(), 100);
  EXPECT_EQ(test.class_names[0], "apple");
  EXPECT_EQ(test.class_names[99], "worm");
  EXPECT_EQ(test.channels(), 3);
}

TEST(LoadDatasetTest, SyntheticSplitsShareClassesButNotSamples) {
  const ImageClassificationData train = load_dataset("synthetic", "", "train");
  const ImageClassificationData test = load_dataset("synthetic", "", "test");
  EXPECT_EQ(train.size(), 4096);
  EXPECT_EQ(test.size(), 1024);
  EXPECT_EQ(train.num_classes(), 10);
  EXPECT_FALSE(at::equal(train.images.slice(0, 0, 1024), test.images));
  EXPECT_TRUE(at::equal(load_dataset("synthetic", "", "test").images, test.images));
}

TEST(StandardAugmentationTest, CifarCropsAndFlipsOthersDoNot) {
  for (const char* name : {"cifar10", "cifar100"}) {
    const AugmentOptions augment = standard_augmentation(name);
    EXPECT_EQ(augment.crop_padding, 4);
    EXPECT_TRUE(augment.horizontal_flip);
  }
  for (const char* name : {"fashion_mnist", "mnist", "synthetic"}) {
    EXPECT_FALSE(standard_augmentation(name).enabled());
  }
}

}  // namespace
}  // namespace trainer
}  // namespace bitlab
