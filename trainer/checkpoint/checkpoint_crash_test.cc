// Crash safety: a forked child resumes from the newest valid checkpoint and saves checkpoints
// in a loop until the parent SIGKILLs it at a random moment (during training, writing, renaming
// or deleting). After every kill the newest valid checkpoint must exist, be no older than the
// one before, load, and match an uninterrupted run step for step: parameters and RNG state
// bit for bit, which also shows that resuming restores the optimizer and the RNG exactly.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <signal.h>
#include <sys/wait.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/adamw.h>
#include <torch/types.h>
#include <unistd.h>

#include "gtest/gtest.h"
#include "trainer/checkpoint/checkpoint_manager.h"

namespace bitlab {
namespace trainer {
namespace {

namespace fs = std::filesystem;

constexpr int kRounds = 15;
constexpr int kKeepLast = 2;

// Seeds the global RNG first, so every Trainee starts from the same parameters and RNG state.
struct Trainee {
  Trainee()
      : model(make_model()), optimizer(model->parameters(), torch::optim::AdamWOptions(1e-3)) {}

  static torch::nn::Sequential make_model() {
    torch::manual_seed(1234);
    return torch::nn::Sequential(torch::nn::Linear(16, 64), torch::nn::ReLU(),
                                 torch::nn::Linear(64, 16));
  }

  // Draws its batch from the global RNG, so a resumed run matches only if the RNG was restored.
  void step() {
    const torch::Tensor x = torch::randn({32, 16});
    optimizer.zero_grad();
    (model->forward(x) - x.flip(1)).pow(2).mean().backward();
    optimizer.step();
  }

  torch::nn::Sequential model;
  torch::optim::AdamW optimizer;
};

torch::Tensor rng_state() {
  at::Generator generator = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(generator.mutex());
  return generator.get_state();
}

void set_rng_state(const torch::Tensor& state) {
  at::Generator generator = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(generator.mutex());
  generator.set_state(state);
}

// The child: resume, then train and save forever (every 5th checkpoint tagged best).
[[noreturn]] void train_until_killed(const std::string& root) {
  try {
    CheckpointManager manager(root, kKeepLast);
    Trainee trainee;
    TrainingState state;
    if (auto dir = manager.latest_valid()) {
      state = CheckpointManager::load(*dir, *trainee.model, trainee.optimizer);
    }
    for (;;) {
      trainee.step();
      ++state.step;
      state.epoch = state.step / 10;
      state.batch_in_epoch = state.step % 10;
      manager.save(*trainee.model, trainee.optimizer, state, /*is_best=*/state.step % 5 == 0);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "child: %s\n", e.what());
  }
  _exit(1);
}

bool has_leftovers(const std::string& root) {
  for (const auto& entry : fs::directory_iterator(root)) {
    if (entry.path().filename().string().rfind(".tmp-", 0) == 0) return true;
  }
  return false;
}

TEST(CheckpointCrashTest, KilledAtRandomMomentsLeavesAValidCheckpoint) {
  // One thread: OpenMP's pool does not survive fork(), and one thread keeps runs bit-identical.
  at::set_num_threads(1);
  const std::string root = std::string(std::getenv("TEST_TMPDIR")) + "/crash";
  fs::remove_all(root);
  const CheckpointManager manager(root, kKeepLast);

  // The uninterrupted run, advanced to each checkpoint's step as the rounds go.
  Trainee reference;
  torch::Tensor reference_rng = rng_state();
  int64_t reference_step = 0;

  std::mt19937 random(20240611);
  std::uniform_int_distribution<int> delay_ms(5, 250);
  int64_t last_step = 0;
  int rounds_with_leftovers = 0;
  for (int round = 0; round < kRounds; ++round) {
    const int delay = delay_ms(random);
    SCOPED_TRACE(::testing::Message() << "round " << round << ", killed after " << delay << " ms");
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) train_until_killed(root);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay));
    ::kill(child, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "the child ended by itself (see its stderr), status " << status;
    if (has_leftovers(root)) ++rounds_with_leftovers;

    std::vector<SkippedCheckpoint> skipped;
    const c10::optional<std::string> dir = manager.latest_valid(&skipped);
    EXPECT_TRUE(skipped.empty()) << skipped.front().dir << ": " << skipped.front().reason;
    if (!dir) {
      ASSERT_EQ(last_step, 0) << "the checkpoint of step " << last_step << " is gone";
      continue;
    }
    Trainee loaded;
    const TrainingState state = CheckpointManager::load(*dir, *loaded.model, loaded.optimizer);
    const torch::Tensor loaded_rng = rng_state();
    ASSERT_GE(state.step, last_step);
    EXPECT_EQ(state.epoch, state.step / 10);
    EXPECT_EQ(state.batch_in_epoch, state.step % 10);
    last_step = state.step;

    set_rng_state(reference_rng);
    for (; reference_step < state.step; ++reference_step) reference.step();
    reference_rng = rng_state();
    EXPECT_TRUE(torch::equal(loaded_rng, reference_rng)) << *dir;
    const auto expected = reference.model->named_parameters();
    for (const auto& p : loaded.model->named_parameters()) {
      EXPECT_TRUE(torch::equal(p.value(), expected[p.key()])) << *dir << " " << p.key();
    }
  }
  EXPECT_GT(last_step, 0);
  std::printf("%d rounds of %d left unfinished .tmp- directories; reached step %lld\n",
              rounds_with_leftovers, kRounds, static_cast<long long>(last_step));
}

}  // namespace
}  // namespace trainer
}  // namespace bitlab
