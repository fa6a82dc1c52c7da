// Run normally, this test spawns two copies of itself (fork + exec of /proc/self/exe) with
// torchrun's variables set; main() sees kOutputEnv and runs one rank of a small training job
// instead of the tests. The parent trains the same job alone on the whole batch and compares.
#include "trainer/distributed/distributed.h"

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/sgd.h>
#include <torch/types.h>
#include <torch/utils.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "bitcore/errors.h"

extern char** environ;

namespace bitlab::trainer {
namespace {

using ::testing::FloatNear;
using ::testing::HasSubstr;
using ::testing::Pointwise;

// Set only in the spawned ranks: where to write the final parameters, and the bucket size.
constexpr const char* kOutputEnv = "BITLAB_DISTRIBUTED_TEST_OUTPUT";
constexpr const char* kBucketBytesEnv = "BITLAB_DISTRIBUTED_TEST_BUCKET_BYTES";
// A rank exits by SIGALRM after this long, whatever happens; the parent kills both a little
// later. Well below the medium test size's 300 s, and far above the few seconds a run takes.
constexpr int kWorkerSeconds = 90;
constexpr auto kParentDeadline = std::chrono::seconds(kWorkerSeconds + 10);

constexpr int kBatch = 8;
constexpr int kSteps = 5;

// Trains Linear(8,4)+ReLU+Linear(4,3) with SGD for kSteps on this rank's share of a fixed
// batch (mean squared error) and returns the final parameters flattened. With one rank it sees
// the whole batch: the reference the distributed ranks must match.
std::vector<float> train_small_model(DistributedContext& dist) {
  torch::manual_seed(42);
  const torch::Tensor inputs = torch::randn({kBatch, 8});
  const torch::Tensor targets = torch::randn({kBatch, 3});
  // A different seed per rank: only broadcast_parameters makes the ranks start alike.
  torch::manual_seed(1 + dist.rank());
  torch::nn::Sequential model(torch::nn::Linear(8, 4), torch::nn::ReLU(), torch::nn::Linear(4, 3));
  dist.broadcast_parameters(*model);

  const int64_t shard = kBatch / dist.world_size();
  const torch::Tensor x = inputs.narrow(0, dist.rank() * shard, shard);
  const torch::Tensor y = targets.narrow(0, dist.rank() * shard, shard);
  torch::optim::SGD sgd(model->parameters(), torch::optim::SGDOptions(0.1));
  for (int step = 0; step < kSteps; ++step) {
    sgd.zero_grad();
    (model->forward(x) - y).pow(2).mean().backward();
    dist.all_reduce_gradients(*model);
    sgd.step();
  }

  std::vector<torch::Tensor> flat;
  for (const torch::Tensor& parameter : model->parameters()) {
    flat.push_back(parameter.detach().reshape({-1}));
  }
  const torch::Tensor all = torch::cat(flat);
  return std::vector<float>(all.data_ptr<float>(), all.data_ptr<float>() + all.numel());
}

// main() of a spawned rank.
int run_rank(const std::string& output) {
  alarm(kWorkerSeconds);
  try {
    DistributedConfig config = DistributedConfig::from_env();
    config.timeout = std::chrono::seconds(30);
    config.bucket_bytes = std::stoll(std::getenv(kBucketBytesEnv));
    DistributedContext dist(config);
    const std::vector<float> parameters = train_small_model(dist);
    std::ofstream(output, std::ios::binary)
        .write(reinterpret_cast<const char*>(parameters.data()),
               static_cast<std::streamsize>(parameters.size() * sizeof(float)));
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "rank " << std::getenv("RANK") << ": " << e.what() << "\n";
    return 1;
  }
}

// A port nobody listens on right now: the kernel's pick for port 0.
int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(addr);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length) != 0) {
    throw std::runtime_error(std::string("free_port: ") + std::strerror(errno));
  }
  close(fd);
  return ntohs(addr.sin_port);
}

// Starts this binary as one rank, with `overrides` replacing those variables in its environment.
pid_t spawn_rank(const std::map<std::string, std::string>& overrides) {
  // Built before fork(): between fork() and exec() only async-signal-safe calls are allowed.
  std::vector<std::string> env;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string variable(*entry);
    if (overrides.count(variable.substr(0, variable.find('='))) == 0) env.push_back(variable);
  }
  for (const auto& [name, value] : overrides) env.push_back(name + "=" + value);
  std::vector<char*> envp;
  for (std::string& variable : env) envp.push_back(variable.data());
  envp.push_back(nullptr);
  char name[] = "distributed_test_rank";
  char* argv[] = {name, nullptr};

  const pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // the rank dies with the test
    execve("/proc/self/exe", argv, envp.data());
    _exit(127);
  }
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  return pid;
}

std::vector<float> read_floats(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<float> values(bytes.size() / sizeof(float));
  std::memcpy(values.data(), bytes.data(), values.size() * sizeof(float));
  return values;
}

// Runs the small job on two ranks and returns each rank's final parameters, or nothing after
// reporting a failure. A rank that fails or outlives kParentDeadline gets every rank killed, so
// the survivor never waits for a dead peer and the test never hangs.
std::vector<std::vector<float>> run_two_ranks(int64_t bucket_bytes) {
  const std::string port = std::to_string(free_port());
  std::vector<std::string> outputs;
  std::vector<pid_t> running;
  for (int rank = 0; rank < 2; ++rank) {
    outputs.push_back(absl::StrCat(::testing::TempDir(), "rank", rank, "_port", port, ".bin"));
    running.push_back(spawn_rank({{"RANK", std::to_string(rank)},
                                  {"LOCAL_RANK", std::to_string(rank)},
                                  {"WORLD_SIZE", "2"},
                                  {"MASTER_ADDR", "127.0.0.1"},
                                  {"MASTER_PORT", port},
                                  {kBucketBytesEnv, std::to_string(bucket_bytes)},
                                  {kOutputEnv, outputs.back()}}));
  }

  bool ok = true;
  const auto deadline = std::chrono::steady_clock::now() + kParentDeadline;
  while (!running.empty()) {
    for (auto it = running.begin(); it != running.end();) {
      int status = 0;
      if (waitpid(*it, &status, WNOHANG) != *it) {
        ++it;
        continue;
      }
      it = running.erase(it);
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        ADD_FAILURE() << "a rank failed: " << (WIFEXITED(status) ? "exit status " : "signal ")
                      << (WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        ok = false;
      }
    }
    if (!running.empty() && std::chrono::steady_clock::now() > deadline) {
      ADD_FAILURE() << "ranks still running after the deadline";
      ok = false;
    }
    if (!ok) {
      for (const pid_t pid : running) kill(pid, SIGKILL);
      for (const pid_t pid : running) waitpid(pid, nullptr, 0);
      return {};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return {read_floats(outputs[0]), read_floats(outputs[1])};
}

std::vector<float> train_alone() {
  DistributedContext alone{DistributedConfig{}};
  return train_small_model(alone);
}

// The two-rank run with the default 25 MB buckets (one bucket for this model), shared by tests.
const std::vector<std::vector<float>>& default_bucket_run() {
  static const std::vector<std::vector<float>> ranks =
      run_two_ranks(DistributedConfig{}.bucket_bytes);
  return ranks;
}

TEST(DistributedTest, TwoRanksMatchOneProcessOnTheWholeBatch) {
  const std::vector<std::vector<float>>& ranks = default_bucket_run();
  ASSERT_EQ(ranks.size(), 2);
  const std::vector<float> reference = train_alone();
  ASSERT_EQ(reference.size(), 8 * 4 + 4 + 4 * 3 + 3);
  EXPECT_EQ(ranks[0], ranks[1]);
  EXPECT_THAT(ranks[0], Pointwise(FloatNear(1e-5), reference));
}

TEST(DistributedTest, SeveralBucketsGiveTheSameResult) {
  // 64 bytes: the first weight (128 bytes) goes alone, the first bias (16) shares a bucket with
  // the second weight (48), the second bias (12) goes alone: three buckets.
  const std::vector<std::vector<float>> ranks = run_two_ranks(64);
  ASSERT_EQ(ranks.size(), 2);
  EXPECT_EQ(ranks[0], ranks[1]);
  // Bucketing only regroups element-wise sums, so the result is bit for bit the same.
  EXPECT_EQ(ranks[0], default_bucket_run().at(0));
  EXPECT_THAT(ranks[0], Pointwise(FloatNear(1e-5), train_alone()));
}

TEST(DistributedTest, OneProcessChangesNothing) {
  DistributedContext alone{DistributedConfig{}};
  EXPECT_EQ(alone.rank(), 0);
  EXPECT_EQ(alone.world_size(), 1);
  EXPECT_TRUE(alone.is_main());
  torch::nn::Linear layer(3, 2);
  layer->weight.mutable_grad() = torch::ones({2, 3});
  const torch::Tensor weight = layer->weight.clone();
  alone.barrier();
  alone.broadcast_parameters(*layer);
  alone.all_reduce_gradients(*layer);
  const torch::Tensor value = torch::full({4}, 2.0);
  alone.all_reduce_mean(value);
  EXPECT_TRUE(torch::equal(layer->weight, weight));
  EXPECT_TRUE(torch::equal(layer->weight.grad(), torch::ones({2, 3})));
  EXPECT_FALSE(layer->bias.grad().defined());
  EXPECT_TRUE(torch::equal(value, torch::full({4}, 2.0)));
}

TEST(DistributedTest, AllReduceMeanNeedsFloatingPoint) {
  DistributedContext alone{DistributedConfig{}};
  EXPECT_THROW(alone.all_reduce_mean(torch::ones({2}, torch::kLong)), BitLabError);
}

void expect_context_error(const DistributedConfig& config, const std::string& message) {
  try {
    DistributedContext dist(config);
    ADD_FAILURE() << "no error for " << message;
  } catch (const BitLabError& e) {
    EXPECT_THAT(e.what(), HasSubstr(message));
  }
}

TEST(DistributedTest, RejectsBadConfigs) {
  DistributedConfig config;
  config.backend = "nccl";
  expect_context_error(config, "backend nccl needs a CUDA build");
  config.backend = "mpi";
  expect_context_error(config, "unknown backend \"mpi\"");
  config = DistributedConfig{};
  config.rank = 2;
  config.world_size = 2;
  expect_context_error(config, "rank 2 is not in [0, world_size)");
  config = DistributedConfig{};
  config.port = 70000;
  expect_context_error(config, "port 70000");
  config = DistributedConfig{};
  config.bucket_bytes = 0;
  expect_context_error(config, "bucket_bytes (0)");
}

TEST(DistributedTest, UnreachableMasterIsAClearError) {
  DistributedConfig config;
  config.rank = 1;
  config.world_size = 2;
  config.port = free_port();  // nobody serves it
  config.timeout = std::chrono::seconds(1);
  expect_context_error(config, absl::StrCat("rank 1 could not reach the master at 127.0.0.1:",
                                            config.port, " within 1000 ms"));
}

TEST(DistributedTest, MissingRankIsAClearError) {
  DistributedConfig config;
  config.world_size = 2;
  config.port = free_port();
  config.timeout = std::chrono::seconds(1);
  expect_context_error(config,
                       absl::StrCat("rank 0 could not join the Gloo process group through "
                                    "127.0.0.1:",
                                    config.port, " within 1000 ms (are all 2 ranks running?)"));
}

}  // namespace
}  // namespace bitlab::trainer

int main(int argc, char** argv) {
  if (const char* output = std::getenv(bitlab::trainer::kOutputEnv)) {
    return bitlab::trainer::run_rank(output);
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
