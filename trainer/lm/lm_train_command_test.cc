// The LM train command end to end: a tiny GPT learns repetitive text to a held-out perplexity
// far below 256 (a model that knows nothing), leaves model/ and deployed/ with their metrics,
// resumes exactly from a checkpoint, does not retrain a finished run, and bad flags are
// ConfigErrors that name the flag.
#include "trainer/lm/lm_train_command.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "bitcore/errors.h"
#include "bitmodels/auto_bit_model.h"
#include "bitmodels/config_fields.h"
#include "bitmodels/manifest.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace bitlab {
namespace trainer {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

const char* const kSentences[] = {
    "the cat sat on the mat. ",          "a dog ran in the park. ",
    "the bird sang in the tree. ",       "my cat likes the warm sun. ",
    "the dog and the cat are friends. ",
};

std::string temp_path(const std::string& name) {
  return std::string(std::getenv("TEST_TMPDIR")) + "/" + name;
}

// `count` sentences drawn in a fixed pseudo-random order starting at `offset`.
std::string write_text(const std::string& name, int count, int offset) {
  std::string text;
  for (int i = 0; i < count; ++i) text += kSentences[(i * 7 + offset + i / 5) % 5];
  const std::string path = temp_path(name);
  std::ofstream(path) << text;
  return path;
}

std::string read(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

LmTrainCommand tiny_command(const std::string& run) {
  LmTrainCommand command;
  command.architecture =
      R"({"hidden_size": 32, "num_layers": 1, "num_heads": 2, "context_length": 32})";
  command.train_files = {write_text("train.txt", 400, 0)};
  command.heldout_files = {write_text("heldout.txt", 40, 3)};
  command.max_steps = 150;
  command.batch_size = 16;
  command.lr = 3e-3;
  command.threads = 1;
  command.output_dir = temp_path(run);
  std::filesystem::remove_all(command.output_dir);
  return command;
}

// The ConfigError's message; a test failure for any other outcome.
std::string config_error_of(const LmTrainCommand& command) {
  try {
    run_lm_train_command(command);
  } catch (const ConfigError& e) {
    return e.what();
  } catch (const BitLabError& e) {
    ADD_FAILURE() << "not a ConfigError: " << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no error";
  return "";
}

TEST(LmTrainCommandTest, TinyGptLearnsTextAndDeploys) {
  const LmTrainCommand command = tiny_command("tiny");
  const LmTrainSummary summary = run_lm_train_command(command);
  EXPECT_EQ(summary.steps, 150);
  EXPECT_EQ(summary.steps_trained, 150);
  EXPECT_LT(summary.heldout_perplexity, 8.0);
  EXPECT_LT(summary.deployed_heldout_perplexity, 8.0);
  EXPECT_NEAR(summary.deployed_heldout_perplexity, summary.heldout_perplexity,
              0.05 * summary.heldout_perplexity);

  const std::string dir = summary.output_dir;
  EXPECT_EQ(Manifest::read(dir + "/model/manifest.json").metrics.at("heldout_perplexity"),
            summary.heldout_perplexity);
  EXPECT_EQ(Manifest::read(dir + "/deployed/manifest.json").metrics.at("heldout_perplexity"),
            summary.deployed_heldout_perplexity);
  EXPECT_THAT(read(dir + "/deployed/README.md"),
              AllOf(HasSubstr("heldout_perplexity"), HasSubstr("train.txt")));
  EXPECT_THAT(read(dir + "/metrics.jsonl"),
              AllOf(HasSubstr("\"train_loss\""), HasSubstr("\"heldout_perplexity\"")));
  EXPECT_THAT(read(dir + "/corpus.json"), HasSubstr("heldout.txt"));
  EXPECT_NO_THROW(AutoBitModel::from_pretrained(dir + "/deployed"));

  // Resuming the finished run trains nothing and finds the same model.
  LmTrainCommand again = command;
  again.resume = true;
  const LmTrainSummary resumed = run_lm_train_command(again);
  EXPECT_EQ(resumed.steps_trained, 0);
  EXPECT_EQ(resumed.steps, 150);
  EXPECT_THAT(resumed.resumed_from, HasSubstr("step-"));
  EXPECT_EQ(resumed.deployed_heldout_perplexity, summary.deployed_heldout_perplexity);

  // Without --resume, the run directory is not overwritten.
  EXPECT_THAT(config_error_of(command), HasSubstr("--resume"));
}

TEST(LmTrainCommandTest, ResumeContinuesExactly) {
  LmTrainCommand command = tiny_command("resume");
  command.max_steps = 40;
  command.config = temp_path("resume.json");
  std::ofstream(command.config) << R"({"checkpoint_every_steps": 20, "log_every_steps": 10,
                                      "eval_every_steps": 20, "grad_clip_norm": 1.0})";
  const LmTrainSummary whole = run_lm_train_command(command);
  // As if the run had died after step 20: its last checkpoint and results gone.
  std::filesystem::remove_all(whole.output_dir + "/checkpoints/step-00000040");
  std::filesystem::remove_all(whole.output_dir + "/deployed");
  command.resume = true;
  const LmTrainSummary resumed = run_lm_train_command(command);
  EXPECT_EQ(resumed.steps_trained, 20);
  EXPECT_THAT(resumed.resumed_from, HasSubstr("step-00000020"));
  EXPECT_EQ(resumed.train_loss, whole.train_loss);
  EXPECT_EQ(resumed.heldout_perplexity, whole.heldout_perplexity);
  EXPECT_EQ(resumed.deployed_heldout_perplexity, whole.deployed_heldout_perplexity);

  // Resuming with other training text is an error.
  command.train_files = {write_text("other.txt", 300, 1)};
  EXPECT_THAT(config_error_of(command), AllOf(HasSubstr("--resume"), HasSubstr("train")));
}

TEST(LmTrainCommandTest, BadFlagsAreConfigErrorsNamingTheFlag) {
  const LmTrainCommand good = tiny_command("bad");
  LmTrainCommand command = good;
  command.model = "resnet18";
  EXPECT_THAT(config_error_of(command), AllOf(HasSubstr("--model=resnet18"), HasSubstr("gpt")));
  command = good;
  command.model = "gpt9000";
  EXPECT_THAT(config_error_of(command), HasSubstr("--model=gpt9000"));
  command = good;
  command.precision = "int4";
  EXPECT_THAT(config_error_of(command), AllOf(HasSubstr("--precision"), HasSubstr("float32")));
  command = good;
  command.quant = "ai3_wpt";
  EXPECT_THAT(config_error_of(command), HasSubstr("--quant"));
  command = good;
  command.architecture = "{\"hidden_size\": ";
  EXPECT_THAT(config_error_of(command), HasSubstr("--architecture"));
  command.architecture = R"({"hidden_siz": 32})";
  EXPECT_THAT(config_error_of(command),
              AllOf(HasSubstr("--architecture"), HasSubstr("hidden_siz")));
  command = good;
  command.max_steps = 0;
  EXPECT_THAT(config_error_of(command), HasSubstr("--max_steps"));
  command.max_steps = -1;  // not given, and the config's default is 0
  EXPECT_THAT(config_error_of(command), HasSubstr("max_steps"));
  command = good;
  command.train_files = {};
  EXPECT_THAT(config_error_of(command), HasSubstr("--train_files"));
  command.train_files = {temp_path("missing.txt")};
  EXPECT_THAT(config_error_of(command),
              AllOf(HasSubstr("--train_files"), HasSubstr(temp_path("missing.txt"))));
  command = good;
  command.heldout_files = {good.train_files[0]};
  EXPECT_THAT(config_error_of(command),
              AllOf(HasSubstr("--heldout_files"), HasSubstr("training set")));
  command = good;
  command.architecture = R"({"hidden_size": 32, "num_layers": 1, "context_length": 4096})";
  command.train_files = {write_text("short.txt", 10, 0)};
  EXPECT_THAT(config_error_of(command), AllOf(HasSubstr("--train_files"), HasSubstr("4097")));
  command = good;
  command.output_dir = "";
  command.resume = true;
  EXPECT_THAT(config_error_of(command), HasSubstr("--resume needs --output_dir"));
}

}  // namespace
}  // namespace trainer
}  // namespace bitlab
