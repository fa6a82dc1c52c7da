#include "trainer/logging/tensorboard.h"

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <system_error>

#include <fcntl.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "bitcore/errors.h"
#include "trainer/logging/event.pb.h"

namespace bitlab {
namespace trainer {
namespace {

// crc32c's table: the CRC of each byte value, for the byte-at-a-time algorithm.
constexpr std::array<uint32_t, 256> make_crc32c_table() {
  std::array<uint32_t, 256> table{};
  for (uint32_t byte = 0; byte < 256; ++byte) {
    uint32_t crc = byte;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ ((crc & 1) ? 0x82F63B78u : 0u);
    table[byte] = crc;
  }
  return table;
}

constexpr std::array<uint32_t, 256> kCrc32cTable = make_crc32c_table();

void append_little_endian(std::string* out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out->push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

double unix_time_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

// Creates a file that did not exist, so two writers started in the same second never share
// (and interleave records in) one file.
int create_new_file(const std::string& base, std::string* path) {
  for (int attempt = 0;; ++attempt) {
    *path = attempt == 0 ? base : absl::StrCat(base, ".", attempt);
    const int fd = ::open(path->c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd >= 0 || errno != EEXIST) return fd;
  }
}

std::string write_error(const std::string& path) {
  return absl::StrCat("cannot write TensorBoard event file ", path, ": ", std::strerror(errno));
}

}  // namespace

uint32_t crc32c(const void* data, size_t size) {
  const uint8_t* bytes = static_cast<const uint8_t*>(data);
  uint32_t crc = 0xFFFFFFFFu;
  for (size_t i = 0; i < size; ++i) crc = kCrc32cTable[(crc ^ bytes[i]) & 0xff] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFFu;
}

uint32_t mask_crc32c(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

std::string tfrecord_frame(const std::string& data) {
  std::string record;
  record.reserve(data.size() + 16);
  append_little_endian(&record, data.size(), 8);
  append_little_endian(&record, mask_crc32c(crc32c(record.data(), 8)), 4);
  record += data;
  append_little_endian(&record, mask_crc32c(crc32c(data.data(), data.size())), 4);
  return record;
}

std::string event_file_name(int64_t unix_seconds, const std::string& hostname) {
  return absl::StrCat("events.out.tfevents.", unix_seconds, ".", hostname);
}

TensorBoardWriter::TensorBoardWriter(const std::string& log_dir) {
  std::error_code error;
  std::filesystem::create_directories(log_dir, error);
  if (error) {
    throw BitLabError(
        absl::StrCat("cannot create TensorBoard directory ", log_dir, ": ", error.message()));
  }
  const double now = unix_time_now();
  const std::string base =
      absl::StrCat(log_dir, "/", event_file_name(static_cast<int64_t>(now), host_name()));
  const int fd = create_new_file(base, &path_);
  if (fd < 0 || (file_ = ::fdopen(fd, "wb")) == nullptr) {
    const std::string message =
        absl::StrCat("cannot create TensorBoard event file ", path_, ": ", std::strerror(errno));
    if (fd >= 0) ::close(fd);
    throw BitLabError(message);
  }
  tfevents::Event event;
  event.set_wall_time(now);
  event.set_file_version("brain.Event:2");
  try {
    write_record(event.SerializeAsString());
    // An event file without its version record is not recognized: make it whole at once.
    flush();
  } catch (...) {
    std::fclose(file_);
    throw;
  }
}

TensorBoardWriter::~TensorBoardWriter() { std::fclose(file_); }

void TensorBoardWriter::add_scalar(const std::string& tag, double value, int64_t step) {
  tfevents::Event event;
  event.set_wall_time(unix_time_now());
  event.set_step(step);
  tfevents::Summary::Value* summary_value = event.mutable_summary()->add_value();
  summary_value->set_tag(tag);
  summary_value->set_simple_value(static_cast<float>(value));
  write_record(event.SerializeAsString());
}

void TensorBoardWriter::flush() {
  if (std::fflush(file_) != 0) {
    throw BitLabError(write_error(path_));
  }
}

void TensorBoardWriter::write_record(const std::string& data) {
  const std::string record = tfrecord_frame(data);
  if (std::fwrite(record.data(), 1, record.size(), file_) != record.size()) {
    throw BitLabError(write_error(path_));
  }
}

}  // namespace trainer
}  // namespace bitlab
