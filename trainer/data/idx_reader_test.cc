#include "trainer/data/idx_reader.h"

#include <cstdint>
#include <string>

#include <ATen/ops/arange.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/tensor.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "bitcore/errors.h"
#include "trainer/data/test_files.h"

namespace bitlab {
namespace trainer {
namespace {

using testdata::error_message;
using testdata::idx_bytes;
using testdata::ramp;
using testdata::read_bytes;
using testdata::temp_path;
using testdata::write_file;
using ::testing::AllOf;
using ::testing::HasSubstr;

// Three 2 x 4 images with pixels 0, 1, ..., 23.
std::string three_images() { return idx_bytes(kIdxImagesMagic, {3, 2, 4}, ramp(24)); }
std::string labels(const std::string& values) {
  return idx_bytes(kIdxLabelsMagic, {static_cast<uint32_t>(values.size())}, values);
}

class IdxReaderTest : public ::testing::TestWithParam<bool> {
 protected:
  bool gzip() const { return GetParam(); }
  std::string write(const std::string& name, const std::string& bytes) {
    const std::string path = temp_path(name + (gzip() ? ".gz" : ""));
    write_file(path, bytes, gzip());
    return path;
  }
};

INSTANTIATE_TEST_SUITE_P(PlainAndGzip, IdxReaderTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "Gzip" : "Plain";
                         });

TEST_P(IdxReaderTest, ReadsImagesAndLabels) {
  const at::Tensor images = read_idx_images(write("images", three_images()));
  EXPECT_EQ(images.scalar_type(), at::kByte);
  EXPECT_TRUE(at::equal(images, at::arange(24, at::kByte).view({3, 2, 4})));

  const at::Tensor read = read_idx_labels(write("labels", labels(std::string("\x07\x00\x09", 3))));
  EXPECT_TRUE(at::equal(read, at::tensor({7, 0, 9}, at::kByte)));
}

TEST_P(IdxReaderTest, ReadsDatasetWithChannelDimension) {
  const ImageClassificationData data = read_idx_dataset(write("ds_images", three_images()),
                                                        write("ds_labels", labels("\x01\x02\x03")));
  EXPECT_EQ(data.images.sizes(), (std::vector<int64_t>{3, 1, 2, 4}));
  EXPECT_EQ(data.images[2][0][1][3].item<int>(), 23);
  EXPECT_EQ(data.labels.scalar_type(), at::kLong);
  EXPECT_TRUE(at::equal(data.labels, at::tensor({1, 2, 3}, at::kLong)));
}

TEST_P(IdxReaderTest, ReadsEmptyFile) {
  EXPECT_EQ(read_idx_images(write("empty", idx_bytes(kIdxImagesMagic, {0, 28, 28}, ""))).sizes(),
            (std::vector<int64_t>{0, 28, 28}));
}

TEST_P(IdxReaderTest, RejectsWrongMagic) {
  const std::string path = write("wrong_magic", labels("\x01\x02"));
  EXPECT_THAT(error_message([&] { read_idx_images(path); }),
              AllOf(HasSubstr(path), HasSubstr("magic number is 0x00000801"),
                    HasSubstr("expected 0x00000803")));
  // 0x0d: float data instead of uint8.
  const std::string floats = write("float_magic", idx_bytes(0x00000d03, {1, 1, 1}, "abcd"));
  EXPECT_THAT(error_message([&] { read_idx_images(floats); }),
              AllOf(HasSubstr(floats), HasSubstr("0x00000d03")));
}

TEST_P(IdxReaderTest, RejectsTruncatedData) {
  std::string bytes = three_images();
  bytes.pop_back();
  const std::string path = write("truncated", bytes);
  EXPECT_THAT(error_message([&] { read_idx_images(path); }),
              AllOf(HasSubstr(path), HasSubstr("[3, 2, 4]"), HasSubstr("24 data bytes"),
                    HasSubstr("the file has 23"), HasSubstr("truncated")));
  if (gzip()) {
    EXPECT_THAT(error_message([&] { read_idx_images(path); }),
                HasSubstr("after gzip decompression"));
  }
}

TEST_P(IdxReaderTest, RejectsTruncatedHeader) {
  const std::string path = write("short_header", three_images().substr(0, 10));
  EXPECT_THAT(
      error_message([&] { read_idx_images(path); }),
      AllOf(HasSubstr(path), HasSubstr("10 bytes"), HasSubstr("16 bytes"), HasSubstr("truncated")));
  const std::string tiny = write("tiny", "\x00\x00");
  EXPECT_THAT(error_message([&] { read_idx_labels(tiny); }), HasSubstr("too short"));
}

TEST_P(IdxReaderTest, RejectsTrailingBytes) {
  const std::string path = write("trailing", three_images() + "x");
  EXPECT_THAT(error_message([&] { read_idx_images(path); }),
              AllOf(HasSubstr(path), HasSubstr("the file has 25"), HasSubstr("trailing")));
}

TEST_P(IdxReaderTest, RejectsZeroSizedImages) {
  const std::string path = write("zero_rows", idx_bytes(kIdxImagesMagic, {3, 0, 4}, ""));
  EXPECT_THAT(error_message([&] { read_idx_images(path); }),
              AllOf(HasSubstr(path), HasSubstr("dimension 1 is 0")));
}

TEST_P(IdxReaderTest, RejectsLabelCountMismatch) {
  const std::string images = write("mismatch_images", three_images());
  const std::string two_labels = write("mismatch_labels", labels("\x01\x02"));
  EXPECT_THAT(error_message([&] { read_idx_dataset(images, two_labels); }),
              AllOf(HasSubstr(images), HasSubstr(two_labels), HasSubstr("3 images"),
                    HasSubstr("2 labels")));
}

TEST(IdxReaderGzipTest, RejectsTruncatedGzipStream) {
  const std::string full = temp_path("full.gz");
  write_file(full, three_images(), /*gzip=*/true);
  std::string compressed = read_bytes(full);
  const std::string path = temp_path("cut.gz");
  write_file(path, compressed.substr(0, compressed.size() - 12));
  EXPECT_THAT(error_message([&] { read_idx_images(path); }),
              AllOf(HasSubstr(path), HasSubstr("gzip data is truncated")));
}

TEST(IdxReaderGzipTest, RejectsCorruptGzipStream) {
  const std::string full = temp_path("full2.gz");
  write_file(full, three_images(), /*gzip=*/true);
  std::string compressed = read_bytes(full);
  compressed[compressed.size() - 5] ^= 0x55;  // the stored length no longer matches
  const std::string path = temp_path("corrupt.gz");
  write_file(path, compressed);
  EXPECT_THAT(error_message([&] { read_idx_images(path); }),
              AllOf(HasSubstr(path), HasSubstr("corrupt gzip data")));
}

TEST(IdxReaderGzipTest, RejectsMissingFile) {
  const std::string path = temp_path("does_not_exist");
  EXPECT_THAT(error_message([&] { read_idx_labels(path); }),
              AllOf(HasSubstr(path), HasSubstr("cannot open")));
}

}  // namespace
}  // namespace trainer
}  // namespace bitlab
