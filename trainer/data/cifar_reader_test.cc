#include "trainer/data/cifar_reader.h"

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/ops/equal.h>
#include <ATen/ops/tensor.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "bitcore/errors.h"
#include "trainer/data/test_files.h"

namespace bitlab {
namespace trainer {
namespace {

using testdata::cifar_record;
using testdata::error_message;
using testdata::temp_path;
using testdata::write_file;
using ::testing::AllOf;
using ::testing::HasSubstr;

std::string write(const std::string& name, const std::string& bytes, bool gzip = false) {
  const std::string path = temp_path(name);
  write_file(path, bytes, gzip);
  return path;
}

TEST(CifarReaderTest, RecordSizes) {
  EXPECT_EQ(cifar_record_bytes(CifarFormat::kCifar10), 3073);
  EXPECT_EQ(cifar_record_bytes(CifarFormat::kCifar100Fine), 3074);
  EXPECT_EQ(cifar_record_bytes(CifarFormat::kCifar100Coarse), 3074);
}

TEST(CifarReaderTest, ReadsCifar10FilesInOrderPlainAndGzip) {
  const std::string first =
      write("batch_1.bin", cifar_record({3}, 0) + cifar_record({9}, 100), /*gzip=*/false);
  const std::string second = write("batch_2.bin", cifar_record({0}, 200), /*gzip=*/true);
  const ImageClassificationData data = read_cifar({first, second}, CifarFormat::kCifar10);
  EXPECT_EQ(data.images.sizes(), (std::vector<int64_t>{3, 3, 32, 32}));
  EXPECT_TRUE(at::equal(data.labels, at::tensor({3, 9, 0}, at::kLong)));
  // Pixels are channels first: byte 1024 * c + 32 * y + x of a record's image is [c][y][x].
  EXPECT_EQ(data.images[0][0][0][0].item<int>(), 0);
  EXPECT_EQ(data.images[0][0][0][5].item<int>(), 5);
  EXPECT_EQ(data.images[1][1][0][0].item<int>(), (100 + 1024) % 256);
  EXPECT_EQ(data.images[2][2][31][31].item<int>(), (200 + 3071) % 256);
}

TEST(CifarReaderTest, ReadsCifar100FineOrCoarse) {
  const std::string path =
      write("cifar100.bin", cifar_record({5, 42}, 0) + cifar_record({19, 99}, 7));
  EXPECT_TRUE(at::equal(read_cifar({path}, CifarFormat::kCifar100Fine).labels,
                        at::tensor({42, 99}, at::kLong)));
  const ImageClassificationData coarse = read_cifar({path}, CifarFormat::kCifar100Coarse);
  EXPECT_TRUE(at::equal(coarse.labels, at::tensor({5, 19}, at::kLong)));
  EXPECT_EQ(coarse.images[1][0][0][0].item<int>(), 7);
}

TEST(CifarReaderTest, RejectsPartialRecords) {
  const std::string path = write("partial.bin", cifar_record({1}, 0) + "x");
  EXPECT_THAT(
      error_message([&] { read_cifar({path}, CifarFormat::kCifar10); }),
      AllOf(HasSubstr(path), HasSubstr("3074 bytes"), HasSubstr("CIFAR-10 records of 3073")));
  // A CIFAR-100 file read as CIFAR-10: its records are one byte longer.
  const std::string cifar100 = write("cifar100_as_10.bin", cifar_record({1, 2}, 0));
  EXPECT_THAT(error_message([&] { read_cifar({cifar100}, CifarFormat::kCifar10); }),
              HasSubstr(cifar100));
}

TEST(CifarReaderTest, RejectsEmptyAndMissingFiles) {
  const std::string empty = write("empty.bin", "");
  EXPECT_THAT(error_message([&] { read_cifar({empty}, CifarFormat::kCifar10); }),
              AllOf(HasSubstr(empty), HasSubstr("0 bytes")));
  const std::string missing = temp_path("missing.bin");
  EXPECT_THAT(error_message([&] { read_cifar({missing}, CifarFormat::kCifar10); }),
              AllOf(HasSubstr(missing), HasSubstr("cannot open")));
  EXPECT_THAT(error_message([&] { read_cifar({}, CifarFormat::kCifar10); }), HasSubstr("no files"));
}

TEST(CifarReaderTest, RejectsLabelsOutOfRange) {
  const std::string cifar10 = write("bad_label.bin", cifar_record({2}, 0) + cifar_record({10}, 0));
  EXPECT_THAT(error_message([&] { read_cifar({cifar10}, CifarFormat::kCifar10); }),
              AllOf(HasSubstr(cifar10), HasSubstr("record 1"), HasSubstr("label 10"),
                    HasSubstr("expected 0..9")));
  const std::string fine = write("bad_fine.bin", cifar_record({3, 100}, 0));
  EXPECT_THAT(error_message([&] { read_cifar({fine}, CifarFormat::kCifar100Fine); }),
              AllOf(HasSubstr(fine), HasSubstr("fine label 100"), HasSubstr("expected 0..99")));
  // The coarse label is checked even when the fine one is used.
  const std::string coarse = write("bad_coarse.bin", cifar_record({20, 3}, 0));
  EXPECT_THAT(error_message([&] { read_cifar({coarse}, CifarFormat::kCifar100Fine); }),
              AllOf(HasSubstr(coarse), HasSubstr("coarse label 20"), HasSubstr("expected 0..19")));
}

}  // namespace
}  // namespace trainer
}  // namespace bitlab
