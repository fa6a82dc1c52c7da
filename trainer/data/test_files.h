// Small data files for the tests: IDX and CIFAR bytes, written plain or gzip-compressed (with
// zlib's gzopen/gzwrite, as gzip(1) would), and error_message for checking errors.
#ifndef BITLAB_TRAINER_DATA_TEST_FILES_H_
#define BITLAB_TRAINER_DATA_TEST_FILES_H_

#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "bitcore/errors.h"

namespace bitlab {
namespace trainer {
namespace testdata {

/// A path in the test's temporary directory.
std::string temp_path(const std::string& name);

/// Writes `bytes` to `path`, gzip-compressed when `gzip`.
void write_file(const std::string& path, const std::string& bytes, bool gzip = false);

/// The bytes of `path`, as stored.
std::string read_bytes(const std::string& path);

/// The message of the BitLabError `run()` throws; a test failure when it throws none.
template <typename Run>
std::string error_message(Run run) {
  try {
    run();
  } catch (const BitLabError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a BitLabError";
  return "";
}

/// An IDX file: big-endian magic, one big-endian uint32 per dimension, then `data`.
std::string idx_bytes(uint32_t magic, const std::vector<uint32_t>& dims, const std::string& data);

/// `count` bytes: first, first + 1, ... (mod 256).
std::string ramp(size_t count, int first = 0);

/// A CIFAR record: the label bytes, then 3072 pixel bytes ramp(3072, pixel_start).
std::string cifar_record(const std::vector<uint8_t>& label_bytes, int pixel_start);

}  // namespace testdata
}  // namespace trainer
}  // namespace bitlab

#endif  // BITLAB_TRAINER_DATA_TEST_FILES_H_
