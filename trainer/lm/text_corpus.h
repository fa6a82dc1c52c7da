// TextCorpus: plain-text files read into one byte sequence for language-model training, one
// token per byte (ByteTokenizer's vocabulary of 256), with the files it came from.
//
// The files are concatenated in the order given, with nothing between them; a directory
// stands for its regular files (symlinks and subdirectories skipped) sorted by name. Each
// file's path, size and SHA-256 are kept, so a run can record exactly what it trained on.
//
// Training batches are random contiguous windows of the sequence, drawn by window_batch() from
// a generator seeded by (seed, step) alone: a run resumed at step s sees the same batches an
// uninterrupted run would have.
//
// Example:
//   bitlab::trainer::TextCorpus corpus =
//       bitlab::trainer::TextCorpus::read({"/usr/share/common-licenses/GPL-2"});
//   at::Tensor batch = corpus.window_batch(/*step=*/0, /*batch_size=*/16, /*length=*/128,
//                                          /*seed=*/0);   // int64 [16, 129]
//   at::Tensor inputs = batch.narrow(1, 0, 128), targets = batch.narrow(1, 1, 128);
#ifndef BITLAB_TRAINER_LM_TEXT_CORPUS_H_
#define BITLAB_TRAINER_LM_TEXT_CORPUS_H_

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

namespace bitlab {
namespace trainer {

/// One file of a corpus.
struct CorpusFile {
  std::string path;
  int64_t size = 0;
  /// Lowercase hex SHA-256 of the file's bytes.
  std::string sha256;
};

class TextCorpus {
 public:
  /// Reads `paths` (files, or directories standing for their regular files sorted by name) in
  /// order. Throws BitLabError naming the path when one is missing, unreadable or empty, when a
  /// directory holds no regular file, or when `paths` is empty.
  static TextCorpus read(const std::vector<std::string>& paths);

  /// Bytes in the corpus (the number of tokens).
  int64_t size() const { return static_cast<int64_t>(bytes_.size()); }
  const std::string& bytes() const { return bytes_; }
  const std::vector<CorpusFile>& files() const { return files_; }

  /// Every byte as a token id: int64 [size()].
  at::Tensor tokens() const;

  /// `batch_size` windows of `length + 1` consecutive tokens at random offsets: int64
  /// [batch_size, length + 1], a pure function of (seed, step). Throws BitLabError when the
  /// corpus is shorter than a window (naming both sizes) or an argument is < 1 (step < 0).
  at::Tensor window_batch(int64_t step, int64_t batch_size, int64_t length, uint64_t seed) const;

  /// The files' names for people: "GPL-1, GPL-2 (/usr/share/common-licenses)" when they share
  /// a directory, else their paths joined by ", ".
  std::string describe() const;

  /// [{"path": ..., "size": ..., "sha256": ...}, ...].
  nlohmann::json files_json() const;

 private:
  std::string bytes_;
  std::vector<CorpusFile> files_;
};

}  // namespace trainer
}  // namespace bitlab

#endif  // BITLAB_TRAINER_LM_TEXT_CORPUS_H_
