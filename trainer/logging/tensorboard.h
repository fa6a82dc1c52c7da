// TensorBoard event files, written without TensorFlow: scalars for `tensorboard --logdir`.
//
// An event file is a sequence of TFRecords, each holding one serialized Event protobuf
// (event.proto, summary.proto: TensorFlow's field numbers). A TFRecord frames its data so a
// reader can find the records and detect damage:
//
//   uint64 length (little endian) | uint32 masked CRC32C of those 8 bytes |
//   data (length bytes)           | uint32 masked CRC32C of the data
//
// The first record of a file is an Event whose file_version is "brain.Event:2"; each scalar is
// an Event with wall time, step and a Summary of one (tag, simple_value).
//
// Example:
//   bitlab::trainer::TensorBoardWriter tensorboard("/runs/a/tensorboard");
//   tensorboard.add_scalar("train/loss", 0.52, /*step=*/100);
//   tensorboard.flush();   // also done by the destructor
#ifndef BITLAB_TRAINER_LOGGING_TENSORBOARD_H_
#define BITLAB_TRAINER_LOGGING_TENSORBOARD_H_

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

namespace bitlab {
namespace trainer {

/// CRC-32C (Castagnoli; reflected polynomial 0x82F63B78, as in iSCSI and TFRecord) of the
/// bytes. crc32c("123456789") == 0xE3069283.
uint32_t crc32c(const void* data, size_t size);

/// TFRecord's masking of a CRC, which keeps the CRC of data that itself holds CRCs from being
/// degenerate: ((crc >> 15) | (crc << 17)) + 0xa282ead8.
uint32_t mask_crc32c(uint32_t crc);

/// `data` framed as one TFRecord (the layout above), ready to append to a file.
std::string tfrecord_frame(const std::string& data);

/// "events.out.tfevents.<unix seconds>.<hostname>", the name TensorBoard looks for.
std::string event_file_name(int64_t unix_seconds, const std::string& hostname);

/// Writes one new event file in a directory. Not thread-safe.
class TensorBoardWriter {
 public:
  /// Creates `log_dir` (and its parents) when missing and a new event file in it, named by
  /// event_file_name() (plus ".1", ".2", ... if a writer in the same second took the name).
  /// Throws BitLabError naming the directory or file when either cannot be created.
  explicit TensorBoardWriter(const std::string& log_dir);
  /// Flushes; errors are not reported (a destructor cannot throw): call flush() to see them.
  ~TensorBoardWriter();
  TensorBoardWriter(const TensorBoardWriter&) = delete;
  TensorBoardWriter& operator=(const TensorBoardWriter&) = delete;

  /// Appends the scalar `tag` = `value` at `step`, stamped with the current wall time. The
  /// value is stored as a float32 (TensorBoard's simple_value). Buffered until flush().
  void add_scalar(const std::string& tag, double value, int64_t step);

  /// Hands everything added so far to the operating system, so TensorBoard (and a crash) see
  /// it. Throws BitLabError naming the file on a write error.
  void flush();

  /// The event file's path.
  const std::string& path() const { return path_; }

 private:
  void write_record(const std::string& data);

  std::string path_;
  std::FILE* file_ = nullptr;
};

}  // namespace trainer
}  // namespace bitlab

#endif  // BITLAB_TRAINER_LOGGING_TENSORBOARD_H_
