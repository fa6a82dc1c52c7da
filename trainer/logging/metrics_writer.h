// Training metrics as files that scripts and spreadsheets read: JSON Lines (one JSON object a
// record) and CSV (one row a record). Both files are opened in append mode, so a resumed run
// continues the files of the run it resumes, and are flushed after every record, so a crash
// loses at most the record being written. A torn last line that a crash left behind is cut off
// when the file is opened again.
//
//   metrics.jsonl:  {"step":100,"epoch":1,"train/loss":0.52,"train/accuracy":0.81}
//   metrics.csv:    step,epoch,train/loss,train/accuracy
//                   100,1,0.52,0.81
//
// A CSV file's columns are fixed by its header line, written once. They are the `csv_columns`
// given at construction or, without them, the names of the first record; a resumed file keeps
// the header it has. A record leaves the cells of the names it lacks empty; a name that is not a
// column is left out of the CSV (once per name, a warning on stderr says so) but still goes to
// the JSONL file, which takes any name.
//
// Example:
//   bitlab::trainer::MetricsWriterOptions options;
//   options.jsonl_path = "/runs/a/metrics.jsonl";
//   options.csv_path = "/runs/a/metrics.csv";
//   options.csv_columns = {"train/loss", "train/accuracy", "eval/loss", "eval/accuracy"};
//   bitlab::trainer::MetricsWriter metrics(options);
//   metrics.write({100, 1, {{"train/loss", 0.52}, {"train/accuracy", 0.81}}});
#ifndef BITLAB_TRAINER_LOGGING_METRICS_WRITER_H_
#define BITLAB_TRAINER_LOGGING_METRICS_WRITER_H_

#include <cstdint>
#include <cstdio>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace bitlab {
namespace trainer {

/// One record: the step and epoch it belongs to, and named values in the order given.
struct MetricsRecord {
  int64_t step = 0;
  int64_t epoch = 0;
  /// Names other than "step" and "epoch", each at most once. NaN and infinities are written
  /// as JSON null and as CSV "nan" / "inf" / "-inf".
  std::vector<std::pair<std::string, double>> values;
};

struct MetricsWriterOptions {
  /// Either path may be empty to skip that format.
  std::string jsonl_path;
  std::string csv_path;
  /// The CSV value columns after "step" and "epoch"; empty: the names of the first record.
  std::vector<std::string> csv_columns;
};

/// Appends records to a JSONL file and a CSV file. Not thread-safe.
class MetricsWriter {
 public:
  /// Opens (creating or appending to) the files. Throws BitLabError naming the file when one
  /// cannot be opened, or when an existing CSV file's header is not "step,epoch,<csv_columns>".
  explicit MetricsWriter(const MetricsWriterOptions& options);
  ~MetricsWriter();
  MetricsWriter(const MetricsWriter&) = delete;
  MetricsWriter& operator=(const MetricsWriter&) = delete;

  /// Appends the record to both files and flushes them. Throws BitLabError naming the file on a
  /// write error, or for a name that is "step", "epoch" or repeated in the record.
  void write(const MetricsRecord& record);

  /// The CSV's value columns (after "step" and "epoch"); empty until they are known.
  const std::vector<std::string>& csv_columns() const { return csv_columns_; }

 private:
  void write_csv(const MetricsRecord& record);

  MetricsWriterOptions options_;
  std::FILE* jsonl_ = nullptr;
  std::FILE* csv_ = nullptr;
  std::vector<std::string> csv_columns_;
  bool csv_header_written_ = false;
  std::set<std::string> warned_names_;  // names already reported as not being CSV columns
};

/// One CSV field, quoted (RFC 4180) when it holds a comma, a quote or a line break.
std::string csv_escape(const std::string& field);

/// The fields of one CSV line (no line break), undoing csv_escape.
std::vector<std::string> csv_split(const std::string& line);

}  // namespace trainer
}  // namespace bitlab

#endif  // BITLAB_TRAINER_LOGGING_METRICS_WRITER_H_
