#include "trainer/logging/metrics_writer.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "bitcore/errors.h"

namespace bitlab {
namespace trainer {
namespace {

std::string scratch_path(const std::string& name) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string path = std::string(tmp != nullptr ? tmp : "/tmp") + "/" + name;
  std::remove(path.c_str());
  return path;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

TEST(MetricsWriter, WritesJsonlAndCsv) {
  MetricsWriterOptions options;
  options.jsonl_path = scratch_path("a.jsonl");
  options.csv_path = scratch_path("a.csv");
  {
    MetricsWriter metrics(options);
    metrics.write({100, 1, {{"train/loss", 0.5}, {"train/accuracy", 0.1}}});
    metrics.write({200, 2, {{"train/accuracy", 0.75}, {"train/loss", 0.25}}});
    EXPECT_EQ(metrics.csv_columns(), (std::vector<std::string>{"train/loss", "train/accuracy"}));
  }
  EXPECT_EQ(read_file(options.jsonl_path),
            "{\"step\":100,\"epoch\":1,\"train/loss\":0.5,\"train/accuracy\":0.1}\n"
            "{\"step\":200,\"epoch\":2,\"train/accuracy\":0.75,\"train/loss\":0.25}\n");
  EXPECT_EQ(read_file(options.csv_path),
            "step,epoch,train/loss,train/accuracy\n"
            "100,1,0.5,0.1\n"
            "200,2,0.25,0.75\n");
}

TEST(MetricsWriter, FlushesEveryRecord) {
  MetricsWriterOptions options;
  options.jsonl_path = scratch_path("flush.jsonl");
  MetricsWriter metrics(options);
  metrics.write({1, 1, {{"loss", 2.0}}});
  // Still open: what a crash right now would leave.
  EXPECT_EQ(read_file(options.jsonl_path), "{\"step\":1,\"epoch\":1,\"loss\":2.0}\n");
}

TEST(MetricsWriter, DeclaredColumnsLeaveGapsAndDropUnknownNames) {
  MetricsWriterOptions options;
  options.csv_path = scratch_path("declared.csv");
  options.csv_columns = {"train/loss", "eval/loss", "a,\"b\""};
  {
    MetricsWriter metrics(options);
    metrics.write({10, 1, {{"train/loss", 1.5}, {"lr", 0.01}}});
    metrics.write({20, 1, {{"eval/loss", 1.25}, {"a,\"b\"", 3}}});
  }
  EXPECT_EQ(read_file(options.csv_path),
            "step,epoch,train/loss,eval/loss,\"a,\"\"b\"\"\"\n"
            "10,1,1.5,,\n"
            "20,1,,1.25,3\n");
}

TEST(MetricsWriter, NonFiniteValues) {
  MetricsWriterOptions options;
  options.jsonl_path = scratch_path("nan.jsonl");
  options.csv_path = scratch_path("nan.csv");
  {
    MetricsWriter metrics(options);
    metrics.write({1,
                   1,
                   {{"nan", std::numeric_limits<double>::quiet_NaN()},
                    {"inf", -std::numeric_limits<double>::infinity()}}});
  }
  EXPECT_EQ(read_file(options.jsonl_path), "{\"step\":1,\"epoch\":1,\"nan\":null,\"inf\":null}\n");
  EXPECT_EQ(read_file(options.csv_path), "step,epoch,nan,inf\n1,1,nan,-inf\n");
}

TEST(MetricsWriter, ReopeningAppends) {
  MetricsWriterOptions options;
  options.jsonl_path = scratch_path("resume.jsonl");
  options.csv_path = scratch_path("resume.csv");
  {
    MetricsWriter metrics(options);
    metrics.write({1, 1, {{"loss", 2.0}, {"acc", 0.5}}});
  }
  {
    // A resumed run that declares no columns takes the file's header.
    MetricsWriter metrics(options);
    EXPECT_EQ(metrics.csv_columns(), (std::vector<std::string>{"loss", "acc"}));
    metrics.write({2, 1, {{"acc", 0.625}, {"loss", 1.0}}});
  }
  const std::string jsonl = read_file(options.jsonl_path);
  EXPECT_EQ(jsonl.find("\"step\":1"), 1u);
  EXPECT_NE(jsonl.find("\n{\"step\":2"), std::string::npos);
  EXPECT_EQ(read_file(options.csv_path), "step,epoch,loss,acc\n1,1,2,0.5\n2,1,1,0.625\n");
}

TEST(MetricsWriter, ReopeningDropsATornLastLine) {
  MetricsWriterOptions options;
  options.jsonl_path = scratch_path("torn.jsonl");
  options.csv_path = scratch_path("torn.csv");
  write_file(options.jsonl_path, "{\"step\":1,\"epoch\":1,\"loss\":2.0}\n{\"step\":2,\"ep");
  write_file(options.csv_path, "step,epoch,loss\n1,1,2.0\n2,1,1.");
  {
    MetricsWriter metrics(options);
    metrics.write({2, 1, {{"loss", 1.5}}});
  }
  EXPECT_EQ(read_file(options.jsonl_path),
            "{\"step\":1,\"epoch\":1,\"loss\":2.0}\n{\"step\":2,\"epoch\":1,\"loss\":1.5}\n");
  EXPECT_EQ(read_file(options.csv_path), "step,epoch,loss\n1,1,2.0\n2,1,1.5\n");
}

TEST(MetricsWriter, TornHeaderStartsOver) {
  MetricsWriterOptions options;
  options.csv_path = scratch_path("torn_header.csv");
  write_file(options.csv_path, "step,epo");
  {
    MetricsWriter metrics(options);
    metrics.write({1, 1, {{"loss", 1.5}}});
  }
  EXPECT_EQ(read_file(options.csv_path), "step,epoch,loss\n1,1,1.5\n");
}

TEST(MetricsWriter, ReopeningWithOtherColumnsThrows) {
  MetricsWriterOptions options;
  options.csv_path = scratch_path("mismatch.csv");
  write_file(options.csv_path, "step,epoch,loss\n1,1,2\n");
  options.csv_columns = {"loss", "acc"};
  try {
    MetricsWriter metrics(options);
    FAIL() << "no exception";
  } catch (const BitLabError& e) {
    EXPECT_NE(std::string(e.what()).find(options.csv_path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("step,epoch,loss,acc"), std::string::npos) << e.what();
  }
  write_file(options.csv_path, "time,loss\n");
  options.csv_columns.clear();
  EXPECT_THROW(MetricsWriter metrics(options), BitLabError);
}

TEST(MetricsWriter, RejectsReservedAndRepeatedNames) {
  MetricsWriterOptions options;
  options.jsonl_path = scratch_path("names.jsonl");
  MetricsWriter metrics(options);
  EXPECT_THROW(metrics.write({1, 1, {{"step", 1.0}}}), BitLabError);
  EXPECT_THROW(metrics.write({1, 1, {{"loss", 1.0}, {"loss", 2.0}}}), BitLabError);
  EXPECT_EQ(read_file(options.jsonl_path), "");  // nothing half-written
  options.csv_columns = {"epoch"};
  EXPECT_THROW(MetricsWriter bad(options), BitLabError);
}

TEST(MetricsWriter, UnopenableFileNamesIt) {
  MetricsWriterOptions options;
  options.jsonl_path = "/nonexistent-dir/metrics.jsonl";
  try {
    MetricsWriter metrics(options);
    FAIL() << "no exception";
  } catch (const BitLabError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent-dir/metrics.jsonl"), std::string::npos);
  }
}

TEST(CsvEscape, RoundTripsThroughSplit) {
  EXPECT_EQ(csv_escape("plain"), "plain");
  EXPECT_EQ(csv_escape("a,b"), "\"a,b\"");
  EXPECT_EQ(csv_escape("say \"hi\""), "\"say \"\"hi\"\"\"");
  const std::vector<std::string> fields = {"", "a,b", "say \"hi\"", "x"};
  std::string line;
  for (size_t i = 0; i < fields.size(); ++i) line += (i ? "," : "") + csv_escape(fields[i]);
  EXPECT_EQ(csv_split(line), fields);
}

}  // namespace
}  // namespace trainer
}  // namespace bitlab
