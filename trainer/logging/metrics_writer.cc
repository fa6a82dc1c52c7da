#include "trainer/logging/metrics_writer.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <sys/types.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bitcore/errors.h"

namespace bitlab {
namespace trainer {
namespace {

std::string system_error(const char* what, const std::string& path) {
  return absl::StrCat("cannot ", what, " metrics file ", path, ": ", std::strerror(errno));
}

// Cuts the file at `path`, if there is one, back to the end of its last complete line: a crash
// in the middle of a write leaves a partial record that no reader could parse, and appending
// after it would glue the next record onto it. Works on the descriptor, before any stdio
// buffering could hold the bytes that are cut.
void drop_torn_last_line(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return;
    throw BitLabError(system_error("open", path));
  }
  auto fail = [&](const char* what) {
    const std::string message = system_error(what, path);
    ::close(fd);
    throw BitLabError(message);
  };
  const off_t size = ::lseek(fd, 0, SEEK_END);
  if (size < 0) fail("seek in");
  off_t keep = 0;  // bytes up to and including the last '\n'
  char block[4096];
  for (off_t end = size; end > 0 && keep == 0;) {
    const off_t begin = std::max<off_t>(end - static_cast<off_t>(sizeof(block)), 0);
    const ssize_t count = end - begin;
    if (::pread(fd, block, static_cast<size_t>(count), begin) != count) fail("read");
    for (ssize_t i = count; i-- > 0;) {
      if (block[i] == '\n') {
        keep = begin + i + 1;
        break;
      }
    }
    end = begin;
  }
  if (keep < size) {
    std::fprintf(stderr, "metrics: dropping the incomplete last line of %s (%lld bytes)\n",
                 path.c_str(), static_cast<long long>(size - keep));
    if (::ftruncate(fd, keep) != 0) fail("truncate");
  }
  ::close(fd);
}

// Opens `path` for appending (creating it), after drop_torn_last_line. Returns the file and,
// in `first_line`, its first line without the line break (empty for a new file).
std::FILE* open_for_append(const std::string& path, std::string* first_line) {
  drop_torn_last_line(path);
  // "a+": reads anywhere (for the header), writes always at the end.
  std::FILE* file = std::fopen(path.c_str(), "a+");
  if (file == nullptr) throw BitLabError(system_error("open", path));
  first_line->clear();
  for (int c; (c = std::fgetc(file)) != EOF && c != '\n';) first_line->push_back(char(c));
  // The C standard wants a seek between reading and writing the same stream.
  if (fseeko(file, 0, SEEK_END) != 0) {
    const std::string message = system_error("seek in", path);
    std::fclose(file);
    throw BitLabError(message);
  }
  return file;
}

void write_line(std::FILE* file, const std::string& path, const std::string& line) {
  if (std::fwrite(line.data(), 1, line.size(), file) != line.size() ||
      std::fputc('\n', file) == EOF || std::fflush(file) != 0) {
    throw BitLabError(system_error("write", path));
  }
}

// Shortest text that reads back as the same double ("0.1", not "0.10000000000000001").
std::string format_number(double value) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return std::string(buffer, result.ptr);
}

void check_names(const std::vector<std::string>& names, const std::string& where) {
  std::set<std::string> seen;
  for (const std::string& name : names) {
    if (name == "step" || name == "epoch") {
      throw BitLabError(
          absl::StrCat(where, ": \"", name, "\" is reserved for the record's own step and epoch"));
    }
    if (!seen.insert(name).second) {
      throw BitLabError(absl::StrCat(where, ": the name \"", name, "\" appears twice"));
    }
  }
}

}  // namespace

std::string csv_escape(const std::string& field) {
  if (field.find_first_of(",\"\r\n") == std::string::npos) return field;
  std::string quoted = "\"";
  for (char c : field) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + '"';
}

std::vector<std::string> csv_split(const std::string& line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c != '"') {
        fields.back() += c;
      } else if (i + 1 < line.size() && line[i + 1] == '"') {
        fields.back() += '"';
        ++i;
      } else {
        quoted = false;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else {
      fields.back() += c;
    }
  }
  return fields;
}

MetricsWriter::MetricsWriter(const MetricsWriterOptions& options)
    : options_(options), csv_columns_(options.csv_columns) {
  check_names(csv_columns_, "metrics CSV columns");
  std::string first_line;
  if (!options_.csv_path.empty()) {
    csv_ = open_for_append(options_.csv_path, &first_line);
    if (!first_line.empty()) {
      const std::vector<std::string> header = csv_split(first_line);
      const bool well_formed = header.size() >= 2 && header[0] == "step" && header[1] == "epoch";
      const std::vector<std::string> columns(header.begin() + std::min<size_t>(header.size(), 2),
                                             header.end());
      std::string problem;
      if (!well_formed) {
        problem = "which does not start with step,epoch";
      } else if (!options_.csv_columns.empty() && columns != options_.csv_columns) {
        problem =
            absl::StrCat("but this run logs step,epoch,", absl::StrJoin(options_.csv_columns, ","),
                         ": a resumed run must log the same columns (or use a new file)");
      }
      if (!problem.empty()) {
        std::fclose(csv_);
        throw BitLabError(absl::StrCat("metrics file ", options_.csv_path, " has the header \"",
                                       first_line, "\", ", problem));
      }
      csv_columns_ = columns;
      csv_header_written_ = true;
    }
  }
  if (!options_.jsonl_path.empty()) {
    try {
      jsonl_ = open_for_append(options_.jsonl_path, &first_line);
    } catch (...) {
      if (csv_ != nullptr) std::fclose(csv_);
      throw;
    }
  }
}

MetricsWriter::~MetricsWriter() {
  if (jsonl_ != nullptr) std::fclose(jsonl_);
  if (csv_ != nullptr) std::fclose(csv_);
}

void MetricsWriter::write(const MetricsRecord& record) {
  std::vector<std::string> names;
  for (const auto& [name, value] : record.values) names.push_back(name);
  check_names(names, absl::StrCat("metrics record at step ", record.step));

  if (jsonl_ != nullptr) {
    nlohmann::ordered_json object;
    object["step"] = record.step;
    object["epoch"] = record.epoch;
    for (const auto& [name, value] : record.values) object[name] = value;  // NaN, inf: null
    // Names with invalid UTF-8 get U+FFFD instead of an exception in the middle of training.
    write_line(jsonl_, options_.jsonl_path,
               object.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }
  if (csv_ != nullptr) write_csv(record);
}

void MetricsWriter::write_csv(const MetricsRecord& record) {
  if (!csv_header_written_) {
    if (csv_columns_.empty()) {
      for (const auto& [name, value] : record.values) csv_columns_.push_back(name);
    }
    std::vector<std::string> header = {"step", "epoch"};
    for (const std::string& column : csv_columns_) header.push_back(csv_escape(column));
    write_line(csv_, options_.csv_path, absl::StrJoin(header, ","));
    csv_header_written_ = true;
  }
  std::vector<std::string> cells(csv_columns_.size());
  for (const auto& [name, value] : record.values) {
    const auto column = std::find(csv_columns_.begin(), csv_columns_.end(), name);
    if (column != csv_columns_.end()) {
      cells[column - csv_columns_.begin()] = format_number(value);
    } else if (warned_names_.insert(name).second) {
      // A CSV cannot grow a column without rewriting every earlier row; say so once rather
      // than fail a training run over a log file.
      std::fprintf(stderr, "metrics: %s has no column \"%s\"; its values are left out%s\n",
                   options_.csv_path.c_str(), name.c_str(),
                   jsonl_ != nullptr ? " (they are in the JSONL file)" : "");
    }
  }
  write_line(csv_, options_.csv_path,
             absl::StrCat(record.step, ",", record.epoch, cells.empty() ? "" : ",",
                          absl::StrJoin(cells, ",")));
}

}  // namespace trainer
}  // namespace bitlab
