#include "trainer/lm/text_corpus.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <system_error>

#include <ATen/ops/empty.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bitcore/errors.h"
#include "bitcore/io/sha256.h"
#include "trainer/data/seeds.h"

namespace bitlab {
namespace trainer {
namespace {

namespace fs = std::filesystem;

// derive_seed's stream tag for the windows (data/seeds.h keeps 1 to 3 for image data).
constexpr uint64_t kTextWindowStream = 0x4c4d57;  // "LMW"

// The regular files directly in `dir`, sorted by name; symlinks and subdirectories skipped.
std::vector<std::string> regular_files_in(const std::string& dir) {
  std::vector<std::string> files;
  std::error_code error;
  for (fs::directory_iterator it(dir, error), end; !error && it != end; it.increment(error)) {
    if (it->symlink_status(error).type() == fs::file_type::regular) {
      files.push_back(it->path().string());
    }
  }
  if (error) throw BitLabError(absl::StrCat("text directory ", dir, ": ", error.message()));
  if (files.empty()) {
    throw BitLabError(absl::StrCat("text directory ", dir, ": holds no regular files"));
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw BitLabError(absl::StrCat("text file ", path, ": cannot be opened"));
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw BitLabError(absl::StrCat("text file ", path, ": read error"));
  if (bytes.empty()) throw BitLabError(absl::StrCat("text file ", path, ": is empty"));
  return bytes;
}

}  // namespace

TextCorpus TextCorpus::read(const std::vector<std::string>& paths) {
  if (paths.empty()) throw BitLabError("text corpus: no files given");
  std::vector<std::string> files;
  for (const std::string& path : paths) {
    std::error_code error;
    const fs::file_status status = fs::status(path, error);
    if (status.type() == fs::file_type::not_found) {
      throw BitLabError(absl::StrCat("text file ", path, ": does not exist"));
    }
    if (fs::is_directory(status)) {
      for (std::string& file : regular_files_in(path)) files.push_back(std::move(file));
    } else {
      files.push_back(path);
    }
  }
  TextCorpus corpus;
  for (const std::string& path : files) {
    const std::string bytes = read_text_file(path);
    corpus.files_.push_back(
        {path, static_cast<int64_t>(bytes.size()), sha256_hex(bytes.data(), bytes.size())});
    corpus.bytes_ += bytes;
  }
  return corpus;
}

at::Tensor TextCorpus::tokens() const {
  at::Tensor tokens = at::empty({size()}, at::kLong);
  const auto* text = reinterpret_cast<const unsigned char*>(bytes_.data());
  std::copy(text, text + bytes_.size(), tokens.data_ptr<int64_t>());
  return tokens;
}

at::Tensor TextCorpus::window_batch(int64_t step, int64_t batch_size, int64_t length,
                                    uint64_t seed) const {
  if (step < 0 || batch_size < 1 || length < 1) {
    throw BitLabError(
        absl::StrCat("window_batch: expected step >= 0, batch_size >= 1 and "
                     "length >= 1; got step ",
                     step, ", batch_size ", batch_size, ", length ", length));
  }
  const int64_t window = length + 1;
  if (size() < window) {
    throw BitLabError(absl::StrCat("the text corpus has ", size(),
                                   " bytes, fewer than one window"
                                   " of ",
                                   window, " (context length ", length, " + 1)"));
  }
  SplitMix64 rng(derive_seed(seed, {kTextWindowStream, static_cast<uint64_t>(step)}));
  at::Tensor batch = at::empty({batch_size, window}, at::kLong);
  int64_t* out = batch.data_ptr<int64_t>();
  const auto* text = reinterpret_cast<const unsigned char*>(bytes_.data());
  for (int64_t b = 0; b < batch_size; ++b) {
    const int64_t start = static_cast<int64_t>(rng.below(size() - window + 1));
    out = std::copy(text + start, text + start + window, out);
  }
  return batch;
}

std::string TextCorpus::describe() const {
  std::vector<std::string> names;
  const fs::path dir = fs::path(files_.front().path).parent_path();
  bool one_dir = true;
  for (const CorpusFile& file : files_) {
    const fs::path path(file.path);
    one_dir = one_dir && path.parent_path() == dir;
    names.push_back(path.filename().string());
  }
  if (!one_dir) {
    names.clear();
    for (const CorpusFile& file : files_) names.push_back(file.path);
    return absl::StrJoin(names, ", ");
  }
  return absl::StrCat(absl::StrJoin(names, ", "), dir.empty() ? "" : " (" + dir.string() + ")");
}

nlohmann::json TextCorpus::files_json() const {
  nlohmann::json files = nlohmann::json::array();
  for (const CorpusFile& file : files_) {
    files.push_back({{"path", file.path}, {"size", file.size}, {"sha256", file.sha256}});
  }
  return files;
}

}  // namespace trainer
}  // namespace bitlab
