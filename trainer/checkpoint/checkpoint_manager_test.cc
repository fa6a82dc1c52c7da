// CheckpointManager: save -> load round trips (model, optimizer, RNG, training state),
// retention, and the damaged checkpoints latest_valid() passes over.
#include "trainer/checkpoint/checkpoint_manager.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>
#include <torch/types.h>

#include "bitcore/errors.h"
#include "bitlayers/bit_linear.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace bitlab {
namespace trainer {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// An empty directory under the test's temporary directory.
std::string tmp_dir(const std::string& name) {
  const fs::path dir = fs::path(std::getenv("TEST_TMPDIR")) / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

std::vector<std::string> entries(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const BitLabError& e) {
    return e.what();
  }
  return "(no BitLabError)";
}

// A float layer and a ternary one (whose packed caches model_weights leaves out), with AdamW.
struct Trainee {
  torch::nn::Sequential model{torch::nn::Linear(4, 8), torch::nn::ReLU(),
                              BitLinear(BitLinearOptions(8, 3))};
  torch::optim::AdamW optimizer{model->parameters(), torch::optim::AdamWOptions(1e-2)};

  void step(const torch::Tensor& x, const torch::Tensor& y) {
    optimizer.zero_grad();
    (model->forward(x) - y).pow(2).mean().backward();
    optimizer.step();
  }
  void train(int steps) {
    for (int i = 0; i < steps; ++i) step(torch::randn({16, 4}), torch::randn({16, 3}));
  }
};

void expect_same_parameters(const torch::nn::Module& a, const torch::nn::Module& b) {
  const auto pa = a.named_parameters();
  const auto pb = b.named_parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (const auto& p : pa) EXPECT_TRUE(torch::equal(p.value(), pb[p.key()])) << p.key();
}

TrainingState some_state(int64_t step) {
  TrainingState state;
  state.step = step;
  state.epoch = 2;
  state.batch_in_epoch = 17;
  state.scheduler_name = "cosine";
  state.scheduler_step = step;
  state.metrics = {{"loss", 0.25}, {"accuracy", 0.875}};
  state.best_metric = 0.875;
  state.training_config_json = R"({"lr": 0.01})";
  state.model_config_json = R"({"model_type": "mlp"})";
  state.other_rng_states = {{"data_shuffle", std::string("\x01\x00\xff", 3)}};
  return state;
}

TEST(CheckpointManagerTest, RoundTripRestoresModelOptimizerRngAndState) {
  CheckpointManager manager(tmp_dir("round_trip"), /*keep_last=*/3);
  torch::manual_seed(7);
  Trainee saved;
  saved.train(3);
  const TrainingState state = some_state(3);
  const std::string dir = manager.save(*saved.model, saved.optimizer, state, /*is_best=*/false);
  EXPECT_EQ(dir, manager.root() + "/step-00000003");
  EXPECT_THAT(entries(dir), ElementsAre("manifest.pb", "model.safetensors", "optimizer.pt"));
  const torch::Tensor rand_after_save = torch::rand({5});

  torch::manual_seed(99);  // a different model and RNG position
  Trainee loaded;
  torch::rand({100});
  EXPECT_EQ(CheckpointManager::load(dir, *loaded.model, loaded.optimizer), state);
  EXPECT_TRUE(torch::equal(torch::rand({5}), rand_after_save));
  expect_same_parameters(*saved.model, *loaded.model);

  // The optimizer's moments and step count came back: the next step is the same...
  const torch::Tensor x = torch::randn({16, 4}), y = torch::randn({16, 3});
  saved.step(x, y);
  loaded.step(x, y);
  expect_same_parameters(*saved.model, *loaded.model);
  // ...which a fresh AdamW's would not be.
  Trainee fresh_optimizer;
  CheckpointManager::load(dir, *fresh_optimizer.model, fresh_optimizer.optimizer);
  torch::optim::AdamW fresh(fresh_optimizer.model->parameters(), torch::optim::AdamWOptions(1e-2));
  fresh.zero_grad();
  (fresh_optimizer.model->forward(x) - y).pow(2).mean().backward();
  fresh.step();
  EXPECT_FALSE(torch::equal(fresh_optimizer.model->parameters()[0], saved.model->parameters()[0]));
}

TEST(CheckpointManagerTest, KeepLastDeletesOlderCheckpointsButKeepsTheBest) {
  CheckpointManager manager(tmp_dir("keep_last"), /*keep_last=*/2);
  Trainee trainee;
  for (int step = 1; step <= 5; ++step) {
    manager.save(*trainee.model, trainee.optimizer, some_state(step), /*is_best=*/step == 2);
  }
  EXPECT_THAT(entries(manager.root()),
              ElementsAre("step-00000002", "step-00000004", "step-00000005"));
  EXPECT_EQ(manager.best(), manager.root() + "/step-00000002");
  EXPECT_EQ(manager.latest_valid(), manager.root() + "/step-00000005");

  // A newer best replaces the old one, which then goes like any other.
  manager.save(*trainee.model, trainee.optimizer, some_state(6), /*is_best=*/true);
  EXPECT_THAT(entries(manager.root()), ElementsAre("step-00000005", "step-00000006"));
  EXPECT_EQ(manager.best(), manager.root() + "/step-00000006");
  EXPECT_THROW(CheckpointManager(manager.root(), 0), BitLabError);
}

TEST(CheckpointManagerTest, SavingAStepAgainReplacesIt) {
  CheckpointManager manager(tmp_dir("replace"), /*keep_last=*/2);
  Trainee trainee;
  TrainingState state = some_state(4);
  manager.save(*trainee.model, trainee.optimizer, state, /*is_best=*/false);
  state.metrics["loss"] = 0.125;
  const std::string dir = manager.save(*trainee.model, trainee.optimizer, state, false);
  EXPECT_THAT(entries(manager.root()), ElementsAre("step-00000004"));
  Trainee loaded;
  EXPECT_EQ(CheckpointManager::load(dir, *loaded.model, loaded.optimizer).metrics.at("loss"),
            0.125);
}

TEST(CheckpointManagerTest, UnfinishedSavesAreIgnoredAndCleanedUp) {
  CheckpointManager manager(tmp_dir("leftovers"), /*keep_last=*/2);
  EXPECT_EQ(manager.latest_valid(), c10::nullopt);
  Trainee trainee;
  manager.save(*trainee.model, trainee.optimizer, some_state(1), /*is_best=*/false);
  // What a save killed before its rename leaves behind.
  fs::create_directory(manager.root() + "/.tmp-step-00000002-12345");
  std::ofstream(manager.root() + "/.tmp-step-00000002-12345/model.safetensors") << "partial";
  std::vector<SkippedCheckpoint> skipped;
  EXPECT_EQ(manager.latest_valid(&skipped), manager.root() + "/step-00000001");
  EXPECT_TRUE(skipped.empty());
  manager.save(*trainee.model, trainee.optimizer, some_state(2), /*is_best=*/false);
  EXPECT_THAT(entries(manager.root()), ElementsAre("step-00000001", "step-00000002"));
}

void flip_byte(const std::string& path, long offset_from_end) {
  std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
  file.seekg(-offset_from_end, std::ios::end);
  char c;
  file.get(c);
  file.seekp(-offset_from_end, std::ios::end);
  file.put(static_cast<char>(c ^ 0x5a));
}

struct Damage {
  std::string name;
  std::function<void(const std::string& dir)> apply;
  std::string file;    // the file the reason names
  std::string reason;  // a part of the reason
};

TEST(CheckpointManagerTest, DamagedCheckpointsAreSkippedForThePreviousGoodOne) {
  const std::vector<Damage> damages = {
      {"truncated_model",
       [](const std::string& dir) {
         fs::resize_file(dir + "/model.safetensors", fs::file_size(dir + "/model.safetensors") - 7);
       },
       "model.safetensors", "(truncated?)"},
      // The last bytes are the last tensor's: the per-tensor checksum names it.
      {"flipped_tensor_byte",
       [](const std::string& dir) { flip_byte(dir + "/model.safetensors", 1); },
       "model.safetensors", "tensor '"},
      {"flipped_optimizer_byte",
       [](const std::string& dir) { flip_byte(dir + "/optimizer.pt", 9); }, "optimizer.pt",
       "sha256 is"},
      {"missing_manifest", [](const std::string& dir) { fs::remove(dir + "/manifest.pb"); },
       "manifest.pb", "missing"},
      {"garbage_manifest",
       [](const std::string& dir) {
         std::ofstream(dir + "/manifest.pb", std::ios::trunc) << "this is not a protobuf";
       },
       "manifest.pb", "does not parse"},
      {"empty_manifest",
       [](const std::string& dir) { std::ofstream(dir + "/manifest.pb", std::ios::trunc); },
       "manifest.pb", "format version 0"},
  };
  for (const Damage& damage : damages) {
    SCOPED_TRACE(damage.name);
    CheckpointManager manager(tmp_dir(damage.name), /*keep_last=*/3);
    Trainee trainee;
    manager.save(*trainee.model, trainee.optimizer, some_state(1), /*is_best=*/false);
    trainee.train(1);
    const std::string bad =
        manager.save(*trainee.model, trainee.optimizer, some_state(2), /*is_best=*/false);
    damage.apply(bad);

    std::vector<SkippedCheckpoint> skipped;
    EXPECT_EQ(manager.latest_valid(&skipped), manager.root() + "/step-00000001");
    ASSERT_EQ(skipped.size(), 1);
    EXPECT_EQ(skipped[0].dir, bad);
    EXPECT_THAT(skipped[0].reason,
                AllOf(HasSubstr(bad), HasSubstr(damage.file + ": "), HasSubstr(damage.reason)));
    Trainee loaded;
    EXPECT_THAT(error_of([&] { CheckpointManager::load(bad, *loaded.model, loaded.optimizer); }),
                AllOf(HasSubstr(bad), HasSubstr(damage.file), HasSubstr(damage.reason)));
  }
}

TEST(CheckpointManagerTest, LoadingIntoAnotherOptimizerOrModelNamesTheFile) {
  CheckpointManager manager(tmp_dir("mismatch"), /*keep_last=*/1);
  Trainee trainee;
  const std::string dir =
      manager.save(*trainee.model, trainee.optimizer, some_state(1), /*is_best=*/false);

  torch::optim::SGD sgd(trainee.model->parameters(), torch::optim::SGDOptions(0.1));
  EXPECT_THAT(error_of([&] { CheckpointManager::load(dir, *trainee.model, sgd); }),
              AllOf(HasSubstr(dir), HasSubstr("optimizer.pt"), HasSubstr("torch::optim::AdamW"),
                    HasSubstr("torch::optim::SGD")));

  torch::nn::Sequential other(torch::nn::Linear(4, 8));
  torch::optim::AdamW adamw(other->parameters());
  EXPECT_THAT(error_of([&] { CheckpointManager::load(dir, *other, adamw); }),
              AllOf(HasSubstr(dir), HasSubstr("model.safetensors")));
}

}  // namespace
}  // namespace trainer
}  // namespace bitlab
