// TrainingConfig: defaults, a full config read back, to_json round trips, and every kind of
// bad field named in the error.
#include "trainer/optim/training_config.h"

#include <cstdio>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace bitlab {
namespace trainer {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

// The message of the ConfigError that reading `json` throws.
std::string config_error(const nlohmann::json& json) {
  try {
    TrainingConfig::from_json(json, "train.json");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no ConfigError)";
}

TEST(TrainingConfigTest, EmptyObjectGivesDefaults) {
  const TrainingConfig config = TrainingConfig::from_json(nlohmann::json::object());
  EXPECT_EQ(config.epochs, 1);
  EXPECT_EQ(config.max_steps, 0);
  EXPECT_EQ(config.batch_size, 64);
  EXPECT_EQ(config.grad_accumulation, 1);
  EXPECT_EQ(config.grad_clip_norm, 0);
  EXPECT_EQ(config.seed, 0);
  EXPECT_EQ(config.threads, 0);
  EXPECT_EQ(config.device, "cpu");
  EXPECT_EQ(config.mixed_precision, "none");
  EXPECT_EQ(config.log_every_steps, 50);
  EXPECT_EQ(config.eval_every_steps, 0);
  EXPECT_EQ(config.eval_every_epochs, 1);
  EXPECT_EQ(config.checkpoint_every_steps, 0);
  EXPECT_EQ(config.keep_last_checkpoints, 3);
  EXPECT_EQ(config.early_stopping.monitor, "eval_accuracy");
  EXPECT_EQ(config.early_stopping.mode, "max");
  EXPECT_EQ(config.early_stopping.patience, 0);
  EXPECT_EQ(config.early_stopping.min_delta, 0);
  EXPECT_EQ(config.optimizer.name, "adamw");
  EXPECT_EQ(config.optimizer.lr, 1e-3);
  EXPECT_EQ(config.optimizer.weight_decay, 0.01);
  EXPECT_EQ(config.optimizer.momentum, 0.9);
  EXPECT_FALSE(config.optimizer.nesterov);
  EXPECT_EQ(config.optimizer.betas[0], 0.9);
  EXPECT_EQ(config.optimizer.betas[1], 0.999);
  EXPECT_EQ(config.optimizer.eps, 1e-8);
  EXPECT_EQ(config.schedule.name, "constant");
  EXPECT_EQ(config.schedule.warmup_steps, 0);
  EXPECT_EQ(config.schedule.step_size, 1000);
  EXPECT_EQ(config.schedule.gamma, 0.1);
  EXPECT_EQ(config.schedule.min_lr, 0);
  EXPECT_EQ(config.schedule.pct_start, 0.3);
  EXPECT_EQ(config.schedule.div_factor, 25);
  EXPECT_EQ(config.schedule.final_div_factor, 1e4);
  // The defaults written out read back the same.
  EXPECT_EQ(TrainingConfig::from_json(config.to_json()).to_json(), config.to_json());
}

TEST(TrainingConfigTest, DefaultsThatDependOnOtherFields) {
  // SGD's weight decay defaults to 0, AdamW's to 0.01.
  EXPECT_EQ(TrainingConfig::from_json({{"optimizer", {{"name", "sgd"}}}}).optimizer.weight_decay,
            0);
  // A loss is minimized unless the mode says otherwise.
  EXPECT_EQ(TrainingConfig::from_json({{"early_stopping", {{"monitor", "eval_loss"}}}})
                .early_stopping.mode,
            "min");
  EXPECT_EQ(
      TrainingConfig::from_json({{"early_stopping", {{"monitor", "eval_loss"}, {"mode", "max"}}}})
          .early_stopping.mode,
      "max");
}

TEST(TrainingConfigTest, ReadsEveryFieldAndRoundTrips) {
  const nlohmann::json json = {
      {"epochs", 12},
      {"max_steps", 5000},
      {"batch_size", 32},
      {"grad_accumulation", 4},
      {"grad_clip_norm", 1.5},
      {"seed", 42},
      {"threads", 2},
      {"device", "cuda"},
      {"mixed_precision", "fp16"},
      {"log_every_steps", 10},
      {"eval_every_steps", 200},
      {"eval_every_epochs", 2},
      {"checkpoint_every_steps", 1000},
      {"keep_last_checkpoints", 0},
      {"early_stopping",
       {{"monitor", "eval_loss"}, {"mode", "min"}, {"patience", 3}, {"min_delta", 0.001}}},
      {"optimizer",
       {{"name", "sgd"},
        {"lr", 0.1},
        {"weight_decay", 5e-4},
        {"momentum", 0.8},
        {"nesterov", true},
        {"betas", {0.8, 0.99}},
        {"eps", 1e-6}}},
      {"schedule",
       {{"name", "warmup_cosine"},
        {"warmup_steps", 100},
        {"step_size", 30},
        {"gamma", 0.5},
        {"min_lr", 1e-4},
        {"pct_start", 0.25},
        {"div_factor", 10.0},
        {"final_div_factor", 100.0}}}};
  const TrainingConfig config = TrainingConfig::from_json(json, "train.json");
  EXPECT_EQ(config.epochs, 12);
  EXPECT_EQ(config.max_steps, 5000);
  EXPECT_EQ(config.batch_size, 32);
  EXPECT_EQ(config.grad_accumulation, 4);
  EXPECT_EQ(config.grad_clip_norm, 1.5);
  EXPECT_EQ(config.seed, 42);
  EXPECT_EQ(config.threads, 2);
  EXPECT_EQ(config.device, "cuda");
  EXPECT_EQ(config.mixed_precision, "fp16");
  EXPECT_EQ(config.log_every_steps, 10);
  EXPECT_EQ(config.eval_every_steps, 200);
  EXPECT_EQ(config.eval_every_epochs, 2);
  EXPECT_EQ(config.checkpoint_every_steps, 1000);
  EXPECT_EQ(config.keep_last_checkpoints, 0);
  EXPECT_EQ(config.early_stopping.monitor, "eval_loss");
  EXPECT_EQ(config.early_stopping.patience, 3);
  EXPECT_EQ(config.early_stopping.min_delta, 0.001);
  EXPECT_EQ(config.optimizer.name, "sgd");
  EXPECT_EQ(config.optimizer.lr, 0.1);
  EXPECT_EQ(config.optimizer.weight_decay, 5e-4);
  EXPECT_EQ(config.optimizer.momentum, 0.8);
  EXPECT_TRUE(config.optimizer.nesterov);
  EXPECT_EQ(config.optimizer.betas[0], 0.8);
  EXPECT_EQ(config.optimizer.betas[1], 0.99);
  EXPECT_EQ(config.optimizer.eps, 1e-6);
  EXPECT_EQ(config.schedule.name, "warmup_cosine");
  EXPECT_EQ(config.schedule.warmup_steps, 100);
  EXPECT_EQ(config.schedule.step_size, 30);
  EXPECT_EQ(config.schedule.gamma, 0.5);
  EXPECT_EQ(config.schedule.min_lr, 1e-4);
  EXPECT_EQ(config.schedule.pct_start, 0.25);
  EXPECT_EQ(config.schedule.div_factor, 10);
  EXPECT_EQ(config.schedule.final_div_factor, 100);
  // Every field is written, with the values read.
  EXPECT_EQ(config.to_json(), json);
  EXPECT_EQ(TrainingConfig::from_json(config.to_json()).to_json(), json);
}

TEST(TrainingConfigTest, FromFile) {
  const std::string path = ::testing::TempDir() + "/training_config_test.json";
  std::ofstream(path) << R"({"epochs": 3, "optimizer": {"lr": 0.01}})";
  const TrainingConfig config = TrainingConfig::from_file(path);
  EXPECT_EQ(config.epochs, 3);
  EXPECT_EQ(config.optimizer.lr, 0.01);

  std::ofstream(path) << R"({"epochs": 3,)";
  try {
    TrainingConfig::from_file(path);
    ADD_FAILURE() << "no ConfigError for invalid JSON";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), AllOf(HasSubstr(path), HasSubstr("not valid JSON")));
  }
  std::ofstream(path) << R"({"epochs": 0})";
  try {
    TrainingConfig::from_file(path);
    ADD_FAILURE() << "no ConfigError for epochs 0";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), AllOf(HasSubstr(path), HasSubstr("'epochs'")));
  }
  std::remove(path.c_str());
  EXPECT_THROW(TrainingConfig::from_file(path), ConfigError);
}

TEST(TrainingConfigTest, WrongTypesNameTheField) {
  EXPECT_THAT(config_error({{"epochs", "ten"}}),
              AllOf(HasSubstr("train.json: field 'epochs'"), HasSubstr("an integer")));
  EXPECT_THAT(config_error({{"batch_size", 1.5}}), HasSubstr("field 'batch_size'"));
  EXPECT_THAT(config_error({{"grad_clip_norm", "1"}}), HasSubstr("field 'grad_clip_norm'"));
  EXPECT_THAT(config_error({{"device", 0}}), HasSubstr("field 'device'"));
  EXPECT_THAT(config_error({{"optimizer", {{"nesterov", 1}}}}),
              HasSubstr("train.json: optimizer: field 'nesterov'"));
  EXPECT_THAT(config_error({{"optimizer", {{"betas", 0.9}}}}),
              HasSubstr("optimizer: field 'betas'"));
  EXPECT_THAT(config_error({{"schedule", {{"step_size", "10"}}}}),
              HasSubstr("schedule: field 'step_size'"));
  EXPECT_THAT(config_error({{"early_stopping", {{"monitor", 1}}}}),
              HasSubstr("early_stopping: field 'monitor'"));
  // A nested object that is not an object.
  EXPECT_THAT(config_error({{"optimizer", "sgd"}}),
              AllOf(HasSubstr("train.json: optimizer"), HasSubstr("expected a JSON object")));
  EXPECT_THAT(config_error(nlohmann::json::array()), HasSubstr("expected a JSON object"));
}

TEST(TrainingConfigTest, OutOfRangeValuesNameTheField) {
  for (const char* field : {"epochs", "batch_size", "grad_accumulation", "log_every_steps"}) {
    EXPECT_THAT(config_error({{field, 0}}),
                AllOf(HasSubstr(std::string("field '") + field + "'"), HasSubstr(">= 1")));
  }
  for (const char* field : {"max_steps", "seed", "threads", "eval_every_steps", "eval_every_epochs",
                            "checkpoint_every_steps", "keep_last_checkpoints"}) {
    EXPECT_THAT(config_error({{field, -1}}), HasSubstr(std::string("field '") + field + "'"));
  }
  EXPECT_THAT(config_error({{"grad_clip_norm", -0.5}}), HasSubstr("field 'grad_clip_norm'"));
  EXPECT_THAT(config_error({{"early_stopping", {{"patience", -1}}}}),
              HasSubstr("early_stopping: field 'patience'"));
  EXPECT_THAT(config_error({{"early_stopping", {{"min_delta", -0.1}}}}),
              HasSubstr("early_stopping: field 'min_delta'"));
  EXPECT_THAT(config_error({{"early_stopping", {{"monitor", ""}}}}),
              HasSubstr("early_stopping: field 'monitor' must not be empty"));
  EXPECT_THAT(config_error({{"optimizer", {{"lr", 0}}}}),
              HasSubstr("optimizer: field 'lr' must be > 0"));
  EXPECT_THAT(config_error({{"optimizer", {{"lr", -1}}}}), HasSubstr("optimizer: field 'lr'"));
  EXPECT_THAT(config_error({{"optimizer", {{"eps", 0}}}}), HasSubstr("optimizer: field 'eps'"));
  EXPECT_THAT(config_error({{"optimizer", {{"weight_decay", -0.01}}}}),
              HasSubstr("optimizer: field 'weight_decay'"));
  EXPECT_THAT(config_error({{"optimizer", {{"momentum", 1}}}}),
              AllOf(HasSubstr("optimizer: field 'momentum'"), HasSubstr("[0, 1)")));
  EXPECT_THAT(config_error({{"optimizer", {{"betas", {0.9, 1.0}}}}}),
              AllOf(HasSubstr("optimizer: field 'betas'"), HasSubstr("two numbers in [0, 1)")));
  EXPECT_THAT(config_error({{"optimizer", {{"betas", {0.9}}}}}),
              HasSubstr("optimizer: field 'betas'"));
  EXPECT_THAT(config_error({{"schedule", {{"step_size", 0}}}}),
              HasSubstr("schedule: field 'step_size'"));
  EXPECT_THAT(config_error({{"schedule", {{"gamma", 1.5}}}}), HasSubstr("schedule: field 'gamma'"));
  EXPECT_THAT(config_error({{"schedule", {{"pct_start", 1.1}}}}),
              HasSubstr("schedule: field 'pct_start'"));
  EXPECT_THAT(config_error({{"schedule", {{"div_factor", 0.5}}}}),
              HasSubstr("schedule: field 'div_factor'"));
  EXPECT_THAT(config_error({{"schedule", {{"final_div_factor", 0}}}}),
              HasSubstr("schedule: field 'final_div_factor'"));
  EXPECT_THAT(config_error({{"schedule", {{"warmup_steps", -1}}}}),
              HasSubstr("schedule: field 'warmup_steps'"));
}

TEST(TrainingConfigTest, BadChoicesNameTheFieldAndTheChoices) {
  EXPECT_THAT(config_error({{"device", "tpu"}}),
              AllOf(HasSubstr("field 'device'"), HasSubstr("\"cpu\", \"cuda\"")));
  EXPECT_THAT(config_error({{"mixed_precision", "fp8"}}), HasSubstr("field 'mixed_precision'"));
  EXPECT_THAT(config_error({{"optimizer", {{"name", "adam"}}}}),
              AllOf(HasSubstr("optimizer: field 'name'"), HasSubstr("\"adamw\", \"sgd\"")));
  EXPECT_THAT(config_error({{"schedule", {{"name", "linear"}}}}),
              AllOf(HasSubstr("schedule: field 'name'"), HasSubstr("one_cycle")));
  EXPECT_THAT(config_error({{"early_stopping", {{"mode", "best"}}}}),
              HasSubstr("early_stopping: field 'mode'"));
}

TEST(TrainingConfigTest, UnknownFieldsAreNamed) {
  EXPECT_THAT(config_error({{"epoch", 3}}),
              AllOf(HasSubstr("train.json: unknown field 'epoch'"), HasSubstr("epochs")));
  EXPECT_THAT(config_error({{"optimizer", {{"learning_rate", 0.1}}}}),
              HasSubstr("train.json: optimizer: unknown field 'learning_rate'"));
  EXPECT_THAT(config_error({{"schedule", {{"warmup", 10}}}}),
              HasSubstr("schedule: unknown field 'warmup'"));
  EXPECT_THAT(config_error({{"early_stopping", {{"metric", "eval_loss"}}}}),
              HasSubstr("early_stopping: unknown field 'metric'"));
}

TEST(TrainingConfigTest, InconsistentCombinationsNameTheField) {
  EXPECT_THAT(config_error({{"mixed_precision", "fp16"}}),
              AllOf(HasSubstr("field 'mixed_precision'"), HasSubstr("use \"bf16\" on CPU")));
  EXPECT_THAT(config_error({{"optimizer", {{"name", "sgd"}, {"momentum", 0}, {"nesterov", true}}}}),
              AllOf(HasSubstr("optimizer: field 'nesterov'"), HasSubstr("momentum > 0")));
  EXPECT_THAT(config_error({{"schedule", {{"name", "cosine"}, {"warmup_steps", 10}}}}),
              AllOf(HasSubstr("schedule: field 'warmup_steps'"), HasSubstr("warmup_cosine")));
  EXPECT_THAT(config_error({{"optimizer", {{"lr", 0.01}}},
                            {"schedule", {{"name", "cosine"}, {"min_lr", 0.1}}}}),
              AllOf(HasSubstr("schedule: field 'min_lr'"), HasSubstr("optimizer.lr")));
}

}  // namespace
}  // namespace trainer
}  // namespace bitlab
