// TextCorpus: files and directories read in order with their checksums, windows that are
// contiguous slices and a pure function of (seed, step), and errors that name the file.
#include "trainer/lm/text_corpus.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include <ATen/ATen.h>

#include "bitcore/errors.h"
#include "bitcore/io/sha256.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace bitlab {
namespace trainer {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

// A fresh directory under the test's temporary directory.
std::string temp_dir(const std::string& name) {
  const std::string dir = std::string(std::getenv("TEST_TMPDIR")) + "/" + name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

std::string write(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

// Bytes 0, 1, ..., count - 1 (count <= 256).
std::string ramp(int count) {
  std::string bytes;
  for (int i = 0; i < count; ++i) bytes.push_back(static_cast<char>(i));
  return bytes;
}

std::string error_of(const std::function<void()>& run) {
  try {
    run();
  } catch (const BitLabError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(TextCorpusTest, ReadsFilesInOrderWithSizesAndChecksums) {
  const std::string dir = temp_dir("files");
  const std::string a = write(dir + "/a.txt", "hello ");
  const std::string b = write(dir + "/b.txt", "world\xe9");
  const TextCorpus corpus = TextCorpus::read({b, a});
  EXPECT_EQ(corpus.bytes(), "world\xe9hello ");
  EXPECT_EQ(corpus.size(), 12);
  ASSERT_EQ(corpus.files().size(), 2u);
  EXPECT_EQ(corpus.files()[0].path, b);
  EXPECT_EQ(corpus.files()[0].size, 6);
  EXPECT_EQ(corpus.files()[0].sha256, sha256_hex("world\xe9", 6));
  EXPECT_EQ(corpus.files()[1].sha256, sha256_file_hex(a));
  EXPECT_EQ(corpus.describe(), "b.txt, a.txt (" + dir + ")");
  EXPECT_EQ(corpus.files_json()[1]["size"], 6);

  const at::Tensor tokens = corpus.tokens();
  EXPECT_EQ(tokens.scalar_type(), at::kLong);
  EXPECT_EQ(tokens.sizes(), (std::vector<int64_t>{12}));
  EXPECT_EQ(tokens[5].item<int64_t>(), 0xe9);  // bytes >= 128 are tokens >= 128
  EXPECT_EQ(tokens[6].item<int64_t>(), 'h');
}

TEST(TextCorpusTest, DirectoryIsItsRegularFilesSortedByName) {
  const std::string dir = temp_dir("dir");
  write(dir + "/b", "2");
  write(dir + "/a", "1");
  write(dir + "/c", "3");
  std::filesystem::create_symlink(dir + "/a", dir + "/0-link");
  std::filesystem::create_directory(dir + "/sub");
  write(dir + "/sub/x", "no");
  const TextCorpus corpus = TextCorpus::read({dir});
  EXPECT_EQ(corpus.bytes(), "123");
  ASSERT_EQ(corpus.files().size(), 3u);
  EXPECT_EQ(corpus.files()[0].path, dir + "/a");
}

TEST(TextCorpusTest, WindowsAreContiguousAndAPureFunctionOfSeedAndStep) {
  const std::string dir = temp_dir("windows");
  const TextCorpus corpus = TextCorpus::read({write(dir + "/ramp", ramp(200))});
  const at::Tensor batch = corpus.window_batch(/*step=*/7, /*batch_size=*/5, /*length=*/16, 3);
  EXPECT_EQ(batch.scalar_type(), at::kLong);
  EXPECT_EQ(batch.sizes(), (std::vector<int64_t>{5, 17}));
  for (int64_t b = 0; b < 5; ++b) {
    const int64_t start = batch[b][0].item<int64_t>();
    EXPECT_TRUE(at::equal(batch[b], at::arange(start, start + 17, at::kLong))) << batch[b];
  }
  // The same (seed, step) gives the same windows whatever came before; others differ.
  corpus.window_batch(0, 5, 16, 3);
  EXPECT_TRUE(at::equal(batch, corpus.window_batch(7, 5, 16, 3)));
  EXPECT_FALSE(at::equal(batch, corpus.window_batch(8, 5, 16, 3)));
  EXPECT_FALSE(at::equal(batch, corpus.window_batch(7, 5, 16, 4)));
  // A corpus exactly one window long has one window.
  EXPECT_TRUE(at::equal(corpus.window_batch(1, 2, 199, 0)[1], at::arange(200, at::kLong)));
}

TEST(TextCorpusTest, ErrorsNameTheFileAndTheSizes) {
  const std::string dir = temp_dir("errors");
  EXPECT_THAT(error_of([&] { TextCorpus::read({dir + "/missing.txt"}); }),
              AllOf(HasSubstr(dir + "/missing.txt"), HasSubstr("does not exist")));
  const std::string empty = write(dir + "/empty.txt", "");
  EXPECT_THAT(error_of([&] { TextCorpus::read({empty}); }),
              AllOf(HasSubstr(empty), HasSubstr("empty")));
  const std::string no_files = temp_dir("errors/none");
  EXPECT_THAT(error_of([&] { TextCorpus::read({no_files}); }),
              AllOf(HasSubstr(no_files), HasSubstr("no regular files")));
  EXPECT_THAT(error_of([&] { TextCorpus::read({}); }), HasSubstr("no files"));
  const TextCorpus small = TextCorpus::read({write(dir + "/small.txt", "0123456789")});
  EXPECT_THAT(error_of([&] { small.window_batch(0, 1, 32, 0); }),
              AllOf(HasSubstr("10 bytes"), HasSubstr("33")));
  EXPECT_THAT(error_of([&] { small.window_batch(-1, 1, 4, 0); }), HasSubstr("step -1"));
}

}  // namespace
}  // namespace trainer
}  // namespace bitlab
