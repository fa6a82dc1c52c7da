// `bazel run //trainer/lm:train_lm -- --train_files=... --heldout_files=... --max_steps=2000`:
// trains the zoo's GPT on plain text, one token per byte, and leaves the checkpoints, metrics,
// trained and deployed model under runs/<model>-lm-<time>/ (or --output_dir). See
// lm_train_command.h for what each setting does.
//
// Example:
//   bazel-bin/trainer/lm/train_lm --train_files=/usr/share/common-licenses/GPL-2
//       --heldout_files=/usr/share/common-licenses/MPL-2.0 --max_steps=2000
//       --architecture='{"hidden_size":192,"num_layers":4,"num_heads":4,"context_length":128}'
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_split.h"
#include "bitcore/errors.h"
#include "trainer/lm/lm_train_command.h"

ABSL_FLAG(std::string, model, "gpt", "a causal language model of the zoo");
ABSL_FLAG(std::string, architecture, "",
          "a JSON object of architecture fields, e.g. "
          "'{\"hidden_size\":192,\"num_layers\":4,\"num_heads\":4,\"context_length\":128}'");
ABSL_FLAG(std::string, train_files, "", "comma-separated text files, or a directory");
ABSL_FLAG(std::string, heldout_files, "",
          "comma-separated text files for perplexity (none may be a training file)");
ABSL_FLAG(std::string, precision, "ternary", "ternary, or float32 (the unconverted twin)");
ABSL_FLAG(std::string, quant, "ai8pc_wpt", "quantization: a compact string or a JSON object");
ABSL_FLAG(std::string, config, "", "a TrainingConfig JSON file; flags override its fields");
ABSL_FLAG(int64_t, max_steps, -1,
          "the run's length in optimizer steps (required, here or in "
          "--config)");
ABSL_FLAG(int64_t, batch_size, -1, "windows per step (default 64)");
ABSL_FLAG(double, lr, -1, "base learning rate (default 1e-3)");
ABSL_FLAG(int64_t, seed, -1, "random seed (default 0)");
ABSL_FLAG(int64_t, threads, -1, "intra-op threads (default: libtorch's)");
ABSL_FLAG(std::string, output_dir, "", "run directory (default runs/<model>-lm-<time>)");
ABSL_FLAG(bool, resume, false, "continue the run in --output_dir from its newest good checkpoint");

namespace {

std::vector<std::string> split_list(const std::string& list) {
  return absl::StrSplit(list, ',', absl::SkipWhitespace());
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "trains a ternary GPT on text: train_lm --train_files=a.txt,b.txt --heldout_files=c.txt "
      "--max_steps=2000");
  absl::ParseCommandLine(argc, argv);
  bitlab::trainer::LmTrainCommand command;
  command.model = absl::GetFlag(FLAGS_model);
  command.architecture = absl::GetFlag(FLAGS_architecture);
  command.train_files = split_list(absl::GetFlag(FLAGS_train_files));
  command.heldout_files = split_list(absl::GetFlag(FLAGS_heldout_files));
  command.precision = absl::GetFlag(FLAGS_precision);
  command.quant = absl::GetFlag(FLAGS_quant);
  command.config = absl::GetFlag(FLAGS_config);
  command.max_steps = absl::GetFlag(FLAGS_max_steps);
  command.batch_size = absl::GetFlag(FLAGS_batch_size);
  command.lr = absl::GetFlag(FLAGS_lr);
  command.seed = absl::GetFlag(FLAGS_seed);
  command.threads = absl::GetFlag(FLAGS_threads);
  command.output_dir = absl::GetFlag(FLAGS_output_dir);
  command.resume = absl::GetFlag(FLAGS_resume);
  // `bazel run` starts the binary in its runfiles; relative paths mean the user's directory.
  if (const char* dir = std::getenv("BUILD_WORKING_DIRECTORY")) command.working_dir = dir;
  try {
    const bitlab::trainer::LmTrainSummary summary = bitlab::trainer::run_lm_train_command(command);
    std::printf("held-out perplexity: trained %.4f, deployed %.4f\n", summary.heldout_perplexity,
                summary.deployed_heldout_perplexity);
    std::printf("run directory: %s\n  trained model: %s/model\n  deployed model: %s/deployed\n",
                summary.output_dir.c_str(), summary.output_dir.c_str(), summary.output_dir.c_str());
    return 0;
  } catch (const bitlab::BitLabError& e) {
    std::fprintf(stderr, "train_lm: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {  // libtorch's c10::Error and the like: still no crash
    std::fprintf(stderr, "train_lm: internal error: %s\n", e.what());
    return 3;
  }
}
