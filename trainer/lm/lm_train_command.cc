#include "trainer/lm/lm_train_command.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <ATen/Parallel.h>
#include <torch/nn/functional/loss.h>
#include <torch/optim/optimizer.h>
#include <torch/utils.h>

#include "absl/strings/str_cat.h"
#include "bitcore/errors.h"
#include "bitcore/io/atomic_file.h"
#include "bitlayers/converter.h"
#include "bitmodels/auto_bit_model.h"
#include "bitmodels/causal_lm.h"
#include "bitmodels/json_file.h"
#include "bitmodels/model_registry.h"
#include "trainer/checkpoint/checkpoint_manager.h"
#include "trainer/command_flags.h"
#include "trainer/lm/perplexity.h"
#include "trainer/lm/text_corpus.h"
#include "trainer/logging/metrics_writer.h"
#include "trainer/logging/progress.h"
#include "trainer/optim/grad_clip.h"
#include "trainer/optim/lr_schedule.h"
#include "trainer/optim/mixed_precision.h"
#include "trainer/optim/optimizer.h"

namespace bitlab {
namespace trainer {
namespace {

// Throws unless `model` names a zoo architecture that is a causal language model.
void check_causal_model(const std::string& model) {
  const std::string message =
      absl::StrCat("--model=", model, ": train_lm trains causal language models (such as gpt)");
  if (!ModelRegistry::contains(model)) {
    throw ConfigError(absl::StrCat(message, "; '", model, "' is not a zoo architecture"));
  }
  ConfigFields defaults(nlohmann::json::object(), "--model");
  if (dynamic_cast<CausalLM*>(ModelRegistry::get(model).build(defaults).get()) == nullptr) {
    throw ConfigError(absl::StrCat(message, "; '", model, "' is not one"));
  }
}

AutoBitConfig model_config_for(const LmTrainCommand& command) {
  check_causal_model(command.model);
  if (command.precision != "ternary" && command.precision != "float32") {
    throw ConfigError(
        absl::StrCat("--precision=", command.precision, ": expected \"ternary\" or \"float32\""));
  }
  const nlohmann::json quant = !command.quant.empty() && command.quant[0] == '{'
                                   ? parse_json_flag("--quant", command.quant)
                                   : nlohmann::json(command.quant);
  AutoBitConfig config =
      AutoBitConfig::from_json({{"model_type", command.model}, {"quant_config", quant}}, "--quant");
  config.precision = command.precision;
  config.tokenizer = "byte";
  if (!command.architecture.empty()) {
    config.architecture = parse_json_flag("--architecture", command.architecture);
    if (!config.architecture.is_object()) {
      throw ConfigError(absl::StrCat("--architecture: expected a JSON object of fields, got ",
                                     command.architecture));
    }
  }
  return config;
}

// Builds the model; errors in the architecture's fields name the flag.
std::shared_ptr<BitModel> build_model(const AutoBitConfig& config, int64_t* context_length) {
  std::shared_ptr<BitModel> model;
  try {
    model = AutoBitModel::from_config(config);
  } catch (const ConfigError& e) {
    throw ConfigError(absl::StrCat("--architecture: ", e.what()));
  }
  const auto* lm = dynamic_cast<const CausalLM*>(model.get());
  if (lm->vocab_size() < 256) {
    throw ConfigError(absl::StrCat("--architecture: vocab_size is ", lm->vocab_size(),
                                   "; the byte tokenizer needs at least 256"));
  }
  *context_length = lm->max_sequence_length();
  return model;
}

TextCorpus read_corpus(const std::string& flag, const std::vector<std::string>& paths,
                       const std::string& working_dir) {
  if (paths.empty()) throw ConfigError(absl::StrCat(flag, ": required (text files)"));
  std::vector<std::string> resolved;
  for (const std::string& path : paths) resolved.push_back(resolve_user_path(working_dir, path));
  try {
    return TextCorpus::read(resolved);
  } catch (const BitLabError& e) {
    throw ConfigError(absl::StrCat(flag, ": ", e.what()));
  }
}

// Held-out text must be text the model never saw: no file may have a training file's bytes.
void check_disjoint(const TextCorpus& train, const TextCorpus& heldout) {
  for (const CorpusFile& held : heldout.files()) {
    for (const CorpusFile& trained : train.files()) {
      if (held.sha256 == trained.sha256) {
        throw ConfigError(absl::StrCat("--heldout_files: ", held.path,
                                       " is also in the training set (", trained.path,
                                       " has the same bytes); held-out text must be unseen"));
      }
    }
  }
}

// Writes corpus.json, or, when resuming, checks that the files are those the run began with.
void record_corpus(const std::string& dir, const TextCorpus& train, const TextCorpus& heldout,
                   bool resume) {
  const nlohmann::json record = {{"train", train.files_json()}, {"heldout", heldout.files_json()}};
  const std::string path = dir + "/corpus.json";
  if (resume && std::filesystem::exists(path)) {
    const nlohmann::json before = read_json_file(path, "corpus record");
    const auto hashes = [](const nlohmann::json& files) {
      std::vector<std::string> out;
      for (const nlohmann::json& file : files) out.push_back(file.value("sha256", ""));
      return out;
    };
    for (const char* part : {"train", "heldout"}) {
      if (!before.contains(part) || hashes(before[part]) != hashes(record[part])) {
        throw ConfigError(absl::StrCat("--resume: the ", part,
                                       " files differ from those the run "
                                       "began with (",
                                       path, "); pass the same files"));
      }
    }
    return;
  }
  const std::string text = record.dump(2) + "\n";
  write_file_atomically(path, {{text.data(), text.size()}});
}

// Settings of TrainingConfig that a run of max_steps batches cannot honour: errors, not
// silently ignored.
void check_supported(const TrainingConfig& config, const std::string& source) {
  const auto fail = [&](const std::string& what) {
    throw ConfigError(absl::StrCat(source, ": ", what));
  };
  if (config.device != "cpu") fail("field 'device': this build trains on the CPU only (\"cpu\")");
  if (config.grad_accumulation != 1) {
    fail("field 'grad_accumulation': train_lm takes one batch per step (1); raise batch_size");
  }
  if (config.early_stopping.patience > 0) {
    fail("field 'early_stopping': train_lm runs max_steps steps; remove it or set patience 0");
  }
}

// The training loop's sinks: metrics files and progress lines.
class RunLog {
 public:
  RunLog(const std::string& dir, int64_t total_steps)
      : metrics_({dir + "/metrics.jsonl",
                  dir + "/metrics.csv",
                  {"train_loss", "lr", "steps_per_second", "heldout_perplexity"}}),
        total_steps_(total_steps) {}

  void write(int64_t step, const std::vector<std::pair<std::string, double>>& values) {
    metrics_.write({step, 0, values});
  }

  // One progress line for the steps since the last one.
  void progress(int64_t step, double loss, double lr, double steps_per_second) {
    ProgressState state;
    state.step = step;
    state.total_steps = total_steps_;
    state.loss = loss;
    state.steps_per_second = steps_per_second;
    std::fprintf(stderr, "%s | lr %.3g\n", format_progress_line(state).c_str(), lr);
  }

 private:
  MetricsWriter metrics_;
  int64_t total_steps_;
};

at::Tensor next_byte_loss(const at::Tensor& logits, const at::Tensor& targets) {
  return torch::nn::functional::cross_entropy(logits.reshape({targets.numel(), -1}).to(at::kFloat),
                                              targets.reshape({-1}));
}

// What the training loop works on.
struct LmRun {
  const TrainingConfig& config;
  BitModel& model;
  torch::optim::Optimizer& optimizer;
  CheckpointManager& checkpoints;
  const TextCorpus& train;
  const at::Tensor& heldout_tokens;
  int64_t context_length;
  TrainingState state;
};

// Loads the newest checkpoint into `run` when resuming; returns its directory ("" : none).
std::string restore(LmRun& run, bool resume, const std::string& dir) {
  const c10::optional<std::string> latest = run.checkpoints.latest_valid();
  if (latest && !resume) {
    throw ConfigError(absl::StrCat("--output_dir ", dir, " already holds a run (", *latest,
                                   "); pass --resume to continue it, or choose another directory"));
  }
  if (!latest) {
    if (resume) {
      std::fprintf(stderr, "no checkpoint under %s: starting at step 0\n",
                   run.checkpoints.root().c_str());
    }
    return "";
  }
  const TrainingState fresh = run.state;
  run.state = CheckpointManager::load(*latest, run.model, run.optimizer);
  if (run.state.model_config_json != fresh.model_config_json) {
    throw ConfigError(absl::StrCat("--resume: the run in ", dir, " trained the model ",
                                   run.state.model_config_json, "; the flags give ",
                                   fresh.model_config_json));
  }
  run.state.training_config_json = fresh.training_config_json;
  std::fprintf(stderr, "resuming from %s (step %lld)\n", latest->c_str(),
               static_cast<long long>(run.state.step));
  return *latest;
}

// Trains from run.state.step to max_steps. Returns the mean loss of the last logging interval
// (NaN when no step was left to train).
double train_steps(LmRun& run, RunLog& log) {
  const TrainingConfig& config = run.config;
  const LrSchedule schedule(config.schedule, config.optimizer.lr, config.max_steps);
  TrainingState& state = run.state;
  const int64_t length = run.context_length;
  double last_loss = std::numeric_limits<double>::quiet_NaN();
  double interval_loss = 0;
  int64_t interval_steps = 0;
  auto interval_start = std::chrono::steady_clock::now();
  run.model.train();
  while (state.step < config.max_steps) {
    const at::Tensor windows = run.train.window_batch(state.step, config.batch_size, length,
                                                      static_cast<uint64_t>(config.seed));
    at::Tensor logits;
    {
      AutocastGuard autocast(config.mixed_precision);
      logits = run.model.forward(windows.narrow(1, 0, length));
    }
    const at::Tensor loss = next_byte_loss(logits, windows.narrow(1, 1, length));
    const double loss_value = loss.item<double>();
    if (!std::isfinite(loss_value)) {
      throw BitLabError(absl::StrCat("the training loss is ", loss_value, " at step ",
                                     state.step + 1,
                                     "; lower the learning rate or set grad_clip_norm. The last "
                                     "good checkpoint is kept under ",
                                     run.checkpoints.root()));
    }
    run.optimizer.zero_grad();
    loss.backward();
    if (config.grad_clip_norm > 0) clip_grad_norm(run.model.parameters(), config.grad_clip_norm);
    schedule.apply(run.optimizer, state.step);
    run.optimizer.step();
    state.scheduler_step = ++state.step;
    interval_loss += loss_value;
    ++interval_steps;

    const bool last = state.step == config.max_steps;
    if (state.step % config.log_every_steps == 0 || last) {
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - interval_start).count();
      const double speed = interval_steps / std::max(seconds, 1e-9);
      const double lr = get_lr(run.optimizer);
      last_loss = interval_loss / interval_steps;
      log.write(state.step, {{"train_loss", last_loss}, {"lr", lr}, {"steps_per_second", speed}});
      log.progress(state.step, last_loss, lr, speed);
      interval_loss = 0;
      interval_steps = 0;
      interval_start = std::chrono::steady_clock::now();
    }
    if (config.eval_every_steps > 0 && state.step % config.eval_every_steps == 0 && !last) {
      const double perplexity = heldout_perplexity(run.model, run.heldout_tokens, length);
      state.metrics["heldout_perplexity"] = perplexity;
      log.write(state.step, {{"heldout_perplexity", perplexity}});
      std::fprintf(stderr, "step %lld: held-out perplexity %.4f\n",
                   static_cast<long long>(state.step), perplexity);
    }
    if (last ||
        (config.checkpoint_every_steps > 0 && state.step % config.checkpoint_every_steps == 0)) {
      run.checkpoints.save(run.model, run.optimizer, state, /*is_best=*/false);
    }
  }
  return last_loss;
}

}  // namespace

TrainingConfig lm_training_config_for(const LmTrainCommand& command) {
  nlohmann::json json = config_flag_json(command.working_dir, command.config);
  if (command.max_steps >= 0) json["max_steps"] = command.max_steps;
  if (command.batch_size >= 0) json["batch_size"] = command.batch_size;
  if (command.lr >= 0) json["optimizer"]["lr"] = command.lr;
  if (command.seed >= 0) json["seed"] = command.seed;
  if (command.threads >= 0) json["threads"] = command.threads;
  if (command.config.empty()) json["schedule"]["name"] = "cosine";  // decay to 0 over the run
  const std::string source = command.config.empty() ? "flags" : command.config;
  TrainingConfig config = TrainingConfig::from_json(json, source);
  if (config.max_steps < 1) {
    throw ConfigError(
        command.max_steps >= 0
            ? absl::StrCat("--max_steps=", command.max_steps, ": must be > 0 (the run's length)")
            : absl::StrCat(source,
                           ": field 'max_steps' must be > 0 for train_lm (a run is "
                           "max_steps batches); give --max_steps or set it in --config"));
  }
  check_supported(config, source);
  return config;
}

LmTrainSummary run_lm_train_command(const LmTrainCommand& command) {
  const TrainingConfig config = lm_training_config_for(command);
  if (command.resume && command.output_dir.empty()) {
    throw ConfigError("--resume needs --output_dir: the run directory to continue");
  }
  if (config.threads > 0) at::set_num_threads(static_cast<int>(config.threads));
  const AutoBitConfig model_config = model_config_for(command);
  const TextCorpus train = read_corpus("--train_files", command.train_files, command.working_dir);
  const TextCorpus heldout =
      read_corpus("--heldout_files", command.heldout_files, command.working_dir);
  if (heldout.size() < 2) {
    throw ConfigError("--heldout_files: the held-out text needs at least 2 bytes (1 prediction)");
  }
  check_disjoint(train, heldout);

  torch::manual_seed(static_cast<uint64_t>(config.seed));
  int64_t context_length = 0;
  std::shared_ptr<BitModel> model = build_model(model_config, &context_length);
  if (train.size() < context_length + 1) {
    throw ConfigError(
        absl::StrCat("--train_files: the training text has ", train.size(),
                     " bytes, fewer than one window of context_length + 1 = ", context_length + 1));
  }

  LmTrainSummary summary;
  summary.output_dir =
      run_directory(command.working_dir, command.output_dir, command.model + "-lm");
  const std::string& dir = summary.output_dir;
  make_directories(dir);
  CheckpointManager checkpoints(dir + "/checkpoints",
                                config.keep_last_checkpoints > 0
                                    ? static_cast<int>(config.keep_last_checkpoints)
                                    : std::numeric_limits<int>::max());
  std::unique_ptr<torch::optim::Optimizer> optimizer = make_optimizer(*model, config.optimizer);
  const at::Tensor heldout_tokens = heldout.tokens();
  LmRun run{config, *model, *optimizer, checkpoints, train, heldout_tokens, context_length, {}};
  run.state.training_config_json = config.to_json().dump();
  run.state.model_config_json = model->config.to_json().dump();
  run.state.scheduler_name = config.schedule.name;
  summary.resumed_from = restore(run, command.resume, dir);
  record_corpus(dir, train, heldout, command.resume);

  std::fprintf(
      stderr,
      "training %s (%s) for %lld steps with a %lld-byte context; writing to %s\n"
      "  train:    %lld bytes: %s\n  held out: %lld bytes: %s\n",
      command.model.c_str(),
      command.precision == "float32" ? "float32" : model_config.quant_config.to_string().c_str(),
      static_cast<long long>(config.max_steps), static_cast<long long>(context_length), dir.c_str(),
      static_cast<long long>(train.size()), train.describe().c_str(),
      static_cast<long long>(heldout.size()), heldout.describe().c_str());
  RunLog log(dir, config.max_steps);
  const int64_t first_step = run.state.step;
  summary.train_loss = train_steps(run, log);
  summary.steps = run.state.step;
  summary.steps_trained = run.state.step - first_step;

  summary.heldout_perplexity = heldout_perplexity(*model, heldout_tokens, context_length);
  if (summary.steps_trained > 0) {
    log.write(summary.steps, {{"heldout_perplexity", summary.heldout_perplexity}});
  }

  // The trained model, then its deployed copy (packed ternary weights), measured on the
  // held-out text so the number recorded is the deployed model's own.
  SaveOptions save;
  save.name = absl::StrCat(command.model, "-lm");
  save.dataset = absl::StrCat("text: ", train.describe(), "; held out: ", heldout.describe());
  save.training_recipe =
      nlohmann::json{{"training", config.to_json()}, {"architecture", model_config.architecture}}
          .dump();
  save.metrics = {{"heldout_perplexity", summary.heldout_perplexity}};
  AutoBitModel::save_pretrained(*model, dir + "/model", save);
  std::shared_ptr<BitModel> deployed = AutoBitModel::from_pretrained(dir + "/model");
  deploy_bit_layers(*deployed);
  summary.deployed_heldout_perplexity =
      heldout_perplexity(*deployed, heldout_tokens, context_length);
  save.metrics = {{"heldout_perplexity", summary.deployed_heldout_perplexity}};
  AutoBitModel::save_pretrained(*deployed, dir + "/deployed", save);
  return summary;
}

}  // namespace trainer
}  // namespace bitlab
