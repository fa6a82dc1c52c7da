// `bazel run //trainer:train -- --model=resnet18`: trains a zoo model on an image data set and
// leaves the checkpoints, logs, report, trained and deployed model under runs/<model>-<time>/.
// Every flag is optional; see train_command.h for what each default is.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "bitcore/errors.h"
#include "trainer/train_command.h"

ABSL_FLAG(std::string, model, "resnet18", "zoo architecture (any bitlab::bitzoo::list() name)");
ABSL_FLAG(std::string, dataset, "fashion_mnist",
          "fashion_mnist, mnist, cifar10, cifar100, synthetic");
ABSL_FLAG(std::string, data_dir, "",
          "the data set's directory (default: where Debian installs it)");
ABSL_FLAG(int64_t, epochs, -1, "epochs (default 1)");
ABSL_FLAG(int64_t, max_steps, -1, "stop after this many optimizer steps (0: no limit)");
ABSL_FLAG(int64_t, batch_size, -1, "batch size (default 64)");
ABSL_FLAG(double, lr, -1, "base learning rate (default 1e-3)");
ABSL_FLAG(std::string, optimizer, "", "adamw (default) or sgd");
ABSL_FLAG(std::string, schedule, "", "cosine (default), constant, step, warmup_cosine, one_cycle");
ABSL_FLAG(std::string, quant, "ai8pc_wpt", "quantization: a compact string, JSON, or a JSON file");
ABSL_FLAG(std::string, fp32_layers, "", "regex of layers kept in float32 (default: the model's)");
ABSL_FLAG(std::string, precision, "ternary",
          "ternary, or float32: the same architecture unconverted (a float twin)");
ABSL_FLAG(std::string, architecture, "",
          "JSON object of architecture fields over the data set's, e.g. '{\"patch_size\":7}'");
ABSL_FLAG(std::string, output_dir, "", "run directory (default runs/<model>-<time>)");
ABSL_FLAG(bool, resume, false, "continue the run in --output_dir from its newest good checkpoint");
ABSL_FLAG(std::string, device, "", "cpu (default)");
ABSL_FLAG(int64_t, threads, -1, "intra-op threads (default: libtorch's)");
ABSL_FLAG(int64_t, seed, -1, "random seed (default 0)");
ABSL_FLAG(int64_t, eval_every, -1, "evaluate every N steps (default: at epoch ends)");
ABSL_FLAG(int64_t, early_stop_patience, -1, "evaluations without improvement before stopping");
ABSL_FLAG(std::string, config, "", "a TrainingConfig JSON file; flags override its fields");
ABSL_FLAG(int64_t, workers, 2, "threads loading batches ahead");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "trains a ternary zoo model: bazel run //trainer:train -- --model=resnet18");
  absl::ParseCommandLine(argc, argv);
  bitlab::trainer::TrainCommand command;
  command.model = absl::GetFlag(FLAGS_model);
  command.dataset = absl::GetFlag(FLAGS_dataset);
  command.data_dir = absl::GetFlag(FLAGS_data_dir);
  command.epochs = absl::GetFlag(FLAGS_epochs);
  command.max_steps = absl::GetFlag(FLAGS_max_steps);
  command.batch_size = absl::GetFlag(FLAGS_batch_size);
  command.lr = absl::GetFlag(FLAGS_lr);
  command.optimizer = absl::GetFlag(FLAGS_optimizer);
  command.schedule = absl::GetFlag(FLAGS_schedule);
  command.quant = absl::GetFlag(FLAGS_quant);
  command.fp32_layers = absl::GetFlag(FLAGS_fp32_layers);
  command.precision = absl::GetFlag(FLAGS_precision);
  command.architecture = absl::GetFlag(FLAGS_architecture);
  command.output_dir = absl::GetFlag(FLAGS_output_dir);
  command.resume = absl::GetFlag(FLAGS_resume);
  command.device = absl::GetFlag(FLAGS_device);
  command.threads = absl::GetFlag(FLAGS_threads);
  command.seed = absl::GetFlag(FLAGS_seed);
  command.eval_every = absl::GetFlag(FLAGS_eval_every);
  command.early_stop_patience = absl::GetFlag(FLAGS_early_stop_patience);
  command.config = absl::GetFlag(FLAGS_config);
  command.workers = absl::GetFlag(FLAGS_workers);
  // `bazel run` starts the binary in its runfiles; relative paths mean the user's directory.
  if (const char* dir = std::getenv("BUILD_WORKING_DIRECTORY")) command.working_dir = dir;
  try {
    const bitlab::trainer::TrainSummary summary = bitlab::trainer::run_train_command(command);
    const auto& result = summary.result;
    if (result.stopped_on_nan) {
      std::fprintf(stderr, "%s\n", result.message.c_str());
      return 2;
    }
    if (!summary.main_rank) return 0;  // rank 0 reports for all
    for (const auto& [name, value] : result.final_metrics) {
      std::printf("%s = %.4f\n", name.c_str(), value);
    }
    std::printf("deployed model test accuracy = %.4f\n", summary.deployed_accuracy);
    std::printf("run directory: %s\n  report: %s/report.html\n  deployed model: %s/deployed\n",
                summary.output_dir.c_str(), summary.output_dir.c_str(), summary.output_dir.c_str());
    return 0;
  } catch (const bitlab::BitLabError& e) {
    std::fprintf(stderr, "train: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {  // libtorch's c10::Error and the like: still no crash
    std::fprintf(stderr, "train: internal error: %s\n", e.what());
    return 3;
  }
}
