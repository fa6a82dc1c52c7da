#include "trainer/optim/training_config.h"

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "bitmodels/config_fields.h"
#include "bitmodels/json_file.h"

namespace bitlab {
namespace trainer {
namespace {

// A number in [min, bound): ConfigFields checks closed ranges only, and rates such as momentum
// or the Adam betas must stay below 1 (at 1 the averages never forget).
double get_below(ConfigFields& fields, const std::string& name, double fallback, double min,
                 double bound) {
  const double value = fields.get_double(name, fallback, min);
  if (value >= bound) {
    throw ConfigError(absl::StrCat(fields.describe(name), " must be a number in [", min, ", ",
                                   bound, "), got ", value));
  }
  return value;
}

// A number > 0 (a learning rate or eps of 0 is a mistake, not a setting).
double get_positive(ConfigFields& fields, const std::string& name, double fallback) {
  const double value = fields.get_double(name, fallback, 0);
  if (value == 0) throw ConfigError(absl::StrCat(fields.describe(name), " must be > 0, got 0"));
  return value;
}

// The nested object `name` of `fields` read by Config::from_json; absent reads as {} (a null
// JSON value is an empty object to ConfigFields).
template <typename Config>
Config read_nested(ConfigFields& fields, const std::string& name) {
  const nlohmann::json* value = fields.get_raw(name);
  return Config::from_json(value == nullptr ? nlohmann::json() : *value,
                           absl::StrCat(fields.context(), ": ", name));
}

}  // namespace

OptimizerConfig OptimizerConfig::from_json(const nlohmann::json& json, const std::string& context) {
  ConfigFields fields(json, context);
  OptimizerConfig config;
  config.name = fields.get_choice("name", config.name, {"adamw", "sgd"});
  config.lr = get_positive(fields, "lr", config.lr);
  // As in PyTorch: AdamW decays by default (decoupled, so its strength does not depend on the
  // gradient scale), SGD only when asked (its L2 decay goes through the momentum buffer).
  config.weight_decay =
      fields.get_double("weight_decay", config.name == "sgd" ? 0.0 : config.weight_decay, 0);
  config.momentum = get_below(fields, "momentum", config.momentum, 0, 1);
  config.nesterov = fields.get_bool("nesterov", config.nesterov);
  if (config.name == "sgd" && config.nesterov && config.momentum == 0) {
    throw ConfigError(absl::StrCat(fields.describe("nesterov"), " needs momentum > 0"));
  }
  const std::vector<double> betas =
      fields.get_double_list("betas", {config.betas[0], config.betas[1]});
  const auto is_rate = [](double beta) { return beta >= 0 && beta < 1; };
  if (betas.size() != 2 || !is_rate(betas[0]) || !is_rate(betas[1])) {
    throw ConfigError(absl::StrCat(fields.describe("betas"),
                                   " must be a list of two numbers in [0, 1), got ",
                                   nlohmann::json(betas).dump()));
  }
  config.betas = {betas[0], betas[1]};
  config.eps = get_positive(fields, "eps", config.eps);
  fields.check_all_read();
  return config;
}

nlohmann::json OptimizerConfig::to_json() const {
  return {{"name", name},
          {"lr", lr},
          {"weight_decay", weight_decay},
          {"momentum", momentum},
          {"nesterov", nesterov},
          {"betas", betas},
          {"eps", eps}};
}

ScheduleConfig ScheduleConfig::from_json(const nlohmann::json& json, const std::string& context) {
  ConfigFields fields(json, context);
  ScheduleConfig config;
  config.name = fields.get_choice("name", config.name,
                                  {"constant", "step", "cosine", "warmup_cosine", "one_cycle"});
  config.warmup_steps = fields.get_int("warmup_steps", config.warmup_steps, 0);
  if (config.warmup_steps > 0 && config.name != "warmup_cosine") {
    throw ConfigError(absl::StrCat(fields.describe("warmup_steps"),
                                   " is used only by schedule \"warmup_cosine\", not \"",
                                   config.name, "\""));
  }
  config.step_size = fields.get_int("step_size", config.step_size, 1);
  config.gamma = fields.get_double("gamma", config.gamma, 0, 1);
  config.min_lr = fields.get_double("min_lr", config.min_lr, 0);
  config.pct_start = fields.get_double("pct_start", config.pct_start, 0, 1);
  // Factors below 1 would make one_cycle start or end above its peak.
  config.div_factor = fields.get_double("div_factor", config.div_factor, 1);
  config.final_div_factor = fields.get_double("final_div_factor", config.final_div_factor, 1);
  fields.check_all_read();
  return config;
}

nlohmann::json ScheduleConfig::to_json() const {
  return {{"name", name},
          {"warmup_steps", warmup_steps},
          {"step_size", step_size},
          {"gamma", gamma},
          {"min_lr", min_lr},
          {"pct_start", pct_start},
          {"div_factor", div_factor},
          {"final_div_factor", final_div_factor}};
}

EarlyStoppingConfig EarlyStoppingConfig::from_json(const nlohmann::json& json,
                                                   const std::string& context) {
  ConfigFields fields(json, context);
  EarlyStoppingConfig config;
  config.monitor = fields.get_string("monitor", config.monitor);
  if (config.monitor.empty()) {
    throw ConfigError(absl::StrCat(fields.describe("monitor"), " must not be empty"));
  }
  // A loss gets better as it falls; defaulting to "max" there would stop at the first epoch
  // that learned anything.
  config.mode = fields.get_choice("mode", absl::EndsWith(config.monitor, "loss") ? "min" : "max",
                                  {"max", "min"});
  config.patience = fields.get_int("patience", config.patience, 0);
  config.min_delta = fields.get_double("min_delta", config.min_delta, 0);
  fields.check_all_read();
  return config;
}

nlohmann::json EarlyStoppingConfig::to_json() const {
  return {{"monitor", monitor}, {"mode", mode}, {"patience", patience}, {"min_delta", min_delta}};
}

TrainingConfig TrainingConfig::from_json(const nlohmann::json& json, const std::string& context) {
  ConfigFields fields(json, context);
  TrainingConfig config;
  config.epochs = fields.get_int("epochs", config.epochs, 1);
  config.max_steps = fields.get_int("max_steps", config.max_steps, 0);
  config.batch_size = fields.get_int("batch_size", config.batch_size, 1);
  config.grad_accumulation = fields.get_int("grad_accumulation", config.grad_accumulation, 1);
  config.grad_clip_norm = fields.get_double("grad_clip_norm", config.grad_clip_norm, 0);
  config.seed = fields.get_int("seed", config.seed, 0);
  config.threads = fields.get_int("threads", config.threads, 0);
  config.device = fields.get_choice("device", config.device, {"cpu", "cuda"});
  config.mixed_precision =
      fields.get_choice("mixed_precision", config.mixed_precision, {"none", "bf16", "fp16"});
  if (config.mixed_precision == "fp16" && config.device != "cuda") {
    throw ConfigError(absl::StrCat(fields.describe("mixed_precision"),
                                   ": fp16 autocast needs device \"cuda\"; use \"bf16\" on CPU"));
  }
  config.log_every_steps = fields.get_int("log_every_steps", config.log_every_steps, 1);
  config.eval_every_steps = fields.get_int("eval_every_steps", config.eval_every_steps, 0);
  config.eval_every_epochs = fields.get_int("eval_every_epochs", config.eval_every_epochs, 0);
  config.checkpoint_every_steps =
      fields.get_int("checkpoint_every_steps", config.checkpoint_every_steps, 0);
  config.keep_last_checkpoints =
      fields.get_int("keep_last_checkpoints", config.keep_last_checkpoints, 0);
  config.early_stopping = read_nested<EarlyStoppingConfig>(fields, "early_stopping");
  config.optimizer = read_nested<OptimizerConfig>(fields, "optimizer");
  config.schedule = read_nested<ScheduleConfig>(fields, "schedule");
  if (config.schedule.min_lr > config.optimizer.lr) {
    throw ConfigError(absl::StrCat(fields.context(),
                                   ": schedule: field 'min_lr' must be <= ", "optimizer.lr (",
                                   config.optimizer.lr, "), got ", config.schedule.min_lr));
  }
  fields.check_all_read();
  return config;
}

TrainingConfig TrainingConfig::from_file(const std::string& path) {
  return from_json(read_json_file(path, "training config"), path);
}

nlohmann::json TrainingConfig::to_json() const {
  return {{"epochs", epochs},
          {"max_steps", max_steps},
          {"batch_size", batch_size},
          {"grad_accumulation", grad_accumulation},
          {"grad_clip_norm", grad_clip_norm},
          {"seed", seed},
          {"threads", threads},
          {"device", device},
          {"mixed_precision", mixed_precision},
          {"log_every_steps", log_every_steps},
          {"eval_every_steps", eval_every_steps},
          {"eval_every_epochs", eval_every_epochs},
          {"checkpoint_every_steps", checkpoint_every_steps},
          {"keep_last_checkpoints", keep_last_checkpoints},
          {"early_stopping", early_stopping.to_json()},
          {"optimizer", optimizer.to_json()},
          {"schedule", schedule.to_json()}};
}

}  // namespace trainer
}  // namespace bitlab
