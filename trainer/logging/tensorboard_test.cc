#include "trainer/logging/tensorboard.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "bitcore/errors.h"
#include "trainer/logging/event.pb.h"

namespace bitlab {
namespace trainer {
namespace {

TEST(Crc32c, KnownVectors) {
  // The check value of the CRC catalogue, and RFC 3720 (iSCSI) section B.4.
  EXPECT_EQ(crc32c("123456789", 9), 0xE3069283u);
  EXPECT_EQ(crc32c("", 0), 0u);
  std::string bytes(32, '\0');
  EXPECT_EQ(crc32c(bytes.data(), bytes.size()), 0x8A9136AAu);
  bytes.assign(32, '\xff');
  EXPECT_EQ(crc32c(bytes.data(), bytes.size()), 0x62A8AB43u);
  for (int i = 0; i < 32; ++i) bytes[i] = static_cast<char>(i);
  EXPECT_EQ(crc32c(bytes.data(), bytes.size()), 0x46DD794Eu);
}

TEST(MaskCrc32c, RotatesAndAdds) {
  EXPECT_EQ(mask_crc32c(0), 0xa282ead8u);
  // 0xE3069283 rotated right by 15 is 0x2507C60D; plus the constant, modulo 2^32.
  EXPECT_EQ(mask_crc32c(0xE3069283u), 0x2507C60Du + 0xa282ead8u);
}

TEST(TfrecordFrame, KnownRecord) {
  // Computed with TensorBoard's own reader code (tensorboard.compat.tensorflow_stub).
  const std::string expected(
      "\x05\x00\x00\x00\x00\x00\x00\x00"  // length 5, little endian
      "\xea\xb2\x04\x3e"                  // masked CRC32C of the length
      "hello"
      "\xbb\x1f\x1c\x19",  // masked CRC32C of "hello"
      21);
  EXPECT_EQ(tfrecord_frame("hello"), expected);
}

TEST(EventFileName, TensorBoardPattern) {
  EXPECT_EQ(event_file_name(1700000000, "box"), "events.out.tfevents.1700000000.box");
}

// The Events of a TFRecord file, checking the framing on the way.
std::vector<tfevents::Event> read_events(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string bytes = buffer.str();
  std::vector<tfevents::Event> events;
  size_t at = 0;
  while (at < bytes.size()) {
    EXPECT_LE(at + 12, bytes.size());
    uint64_t length = 0;
    for (int i = 7; i >= 0; --i) length = (length << 8) | static_cast<uint8_t>(bytes[at + i]);
    const std::string data = bytes.substr(at + 12, length);
    EXPECT_EQ(bytes.substr(at, 12 + length + 4), tfrecord_frame(data));
    tfevents::Event event;
    EXPECT_TRUE(event.ParseFromString(data));
    events.push_back(event);
    at += 12 + length + 4;
  }
  return events;
}

std::string scratch_dir(const std::string& name) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string dir = std::string(tmp != nullptr ? tmp : "/tmp") + "/" + name;
  std::filesystem::remove_all(dir);
  return dir;
}

TEST(TensorBoardWriter, WritesVersionThenScalars) {
  const std::string dir = scratch_dir("tb/nested");  // parents created too
  std::string path;
  {
    TensorBoardWriter writer(dir);
    path = writer.path();
    writer.add_scalar("train/loss", 0.5, 10);
    writer.add_scalar("train/loss", 0.0, 20);
    writer.flush();
  }
  const std::string name = std::filesystem::path(path).filename();
  EXPECT_EQ(name.rfind("events.out.tfevents.", 0), 0u) << name;
  EXPECT_EQ(std::filesystem::path(path).parent_path(), dir);

  const std::vector<tfevents::Event> events = read_events(path);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].file_version(), "brain.Event:2");
  EXPECT_GT(events[0].wall_time(), 1.6e9);
  EXPECT_EQ(events[1].step(), 10);
  ASSERT_EQ(events[1].summary().value_size(), 1);
  EXPECT_EQ(events[1].summary().value(0).tag(), "train/loss");
  EXPECT_EQ(events[1].summary().value(0).simple_value(), 0.5f);
  EXPECT_EQ(events[2].step(), 20);
  // A zero must still be written (TensorFlow's oneof), or TensorBoard would drop the point.
  EXPECT_TRUE(events[2].summary().value(0).has_simple_value());
}

TEST(TensorBoardWriter, TwoWritersInOneSecondGetTwoFiles) {
  const std::string dir = scratch_dir("tb_two");
  TensorBoardWriter first(dir);
  TensorBoardWriter second(dir);
  EXPECT_NE(first.path(), second.path());
}

TEST(TensorBoardWriter, UncreatableDirectoryNamesIt) {
  const std::string blocker = scratch_dir("tb_blocker");
  std::ofstream(blocker) << "a file, not a directory";
  try {
    TensorBoardWriter writer(blocker + "/run");
    FAIL() << "no exception";
  } catch (const BitLabError& e) {
    EXPECT_NE(std::string(e.what()).find(blocker), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace trainer
}  // namespace bitlab
