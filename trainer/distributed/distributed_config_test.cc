#include <cstdlib>
#include <map>
#include <optional>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "bitcore/errors.h"
#include "trainer/distributed/distributed.h"

namespace bitlab::trainer {
namespace {

using ::testing::HasSubstr;

constexpr const char* kVariables[] = {"MASTER_ADDR",  "MASTER_PORT",  "RANK",
                                      "WORLD_SIZE",   "LOCAL_RANK",   "SLURM_PROCID",
                                      "SLURM_NTASKS", "SLURM_LOCALID"};

// Clears every variable from_env reads, sets `values`, and restores the environment afterwards.
class ScopedEnv {
 public:
  explicit ScopedEnv(const std::map<std::string, std::string>& values) {
    for (const char* name : kVariables) {
      const char* old = std::getenv(name);
      saved_[name] = old ? std::optional<std::string>(old) : std::nullopt;
      unsetenv(name);
    }
    for (const auto& [name, value] : values) setenv(name.c_str(), value.c_str(), 1);
  }
  ~ScopedEnv() {
    for (const auto& [name, value] : saved_) {
      if (value) {
        setenv(name.c_str(), value->c_str(), 1);
      } else {
        unsetenv(name.c_str());
      }
    }
  }

 private:
  std::map<std::string, std::optional<std::string>> saved_;
};

void expect_error(const std::map<std::string, std::string>& values, const std::string& message) {
  ScopedEnv env(values);
  try {
    DistributedConfig::from_env();
    ADD_FAILURE() << "no error for " << message;
  } catch (const BitLabError& e) {
    EXPECT_THAT(e.what(), HasSubstr(message));
  }
}

TEST(DistributedConfigTest, NothingSetIsOneProcess) {
  ScopedEnv env({});
  const DistributedConfig config = DistributedConfig::from_env();
  EXPECT_EQ(config.master_addr, "127.0.0.1");
  EXPECT_EQ(config.port, 29500);
  EXPECT_EQ(config.rank, 0);
  EXPECT_EQ(config.world_size, 1);
  EXPECT_EQ(config.local_rank, 0);
  EXPECT_EQ(config.backend, "gloo");
}

TEST(DistributedConfigTest, ReadsTorchrunVariables) {
  ScopedEnv env({{"MASTER_ADDR", "node7"},
                 {"MASTER_PORT", "1234"},
                 {"RANK", "5"},
                 {"WORLD_SIZE", "8"},
                 {"LOCAL_RANK", "1"}});
  const DistributedConfig config = DistributedConfig::from_env();
  EXPECT_EQ(config.master_addr, "node7");
  EXPECT_EQ(config.port, 1234);
  EXPECT_EQ(config.rank, 5);
  EXPECT_EQ(config.world_size, 8);
  EXPECT_EQ(config.local_rank, 1);
}

TEST(DistributedConfigTest, FallsBackToSlurm) {
  ScopedEnv env({{"SLURM_PROCID", "3"}, {"SLURM_NTASKS", "4"}, {"SLURM_LOCALID", "1"}});
  const DistributedConfig config = DistributedConfig::from_env();
  EXPECT_EQ(config.rank, 3);
  EXPECT_EQ(config.world_size, 4);
  EXPECT_EQ(config.local_rank, 1);
}

TEST(DistributedConfigTest, TorchrunWinsOverSlurm) {
  // torchrun started inside a SLURM allocation: its own variables describe this process.
  ScopedEnv env({{"RANK", "1"},
                 {"WORLD_SIZE", "2"},
                 {"LOCAL_RANK", "1"},
                 {"SLURM_PROCID", "0"},
                 {"SLURM_NTASKS", "1"},
                 {"SLURM_LOCALID", "0"}});
  const DistributedConfig config = DistributedConfig::from_env();
  EXPECT_EQ(config.rank, 1);
  EXPECT_EQ(config.world_size, 2);
  EXPECT_EQ(config.local_rank, 1);
}

TEST(DistributedConfigTest, ErrorsNameTheVariableAndValue) {
  expect_error({{"RANK", "one"}, {"WORLD_SIZE", "2"}}, "RANK=\"one\" is not an integer");
  expect_error({{"RANK", ""}}, "RANK=\"\" is not an integer");
  expect_error({{"RANK", "-1"}, {"WORLD_SIZE", "2"}}, "RANK=-1 is out of range");
  expect_error({{"RANK", "2"}, {"WORLD_SIZE", "2"}}, "RANK=2 is not below WORLD_SIZE=2");
  expect_error({{"RANK", "1"}}, "RANK=1 is not below the world size 1");
  expect_error({{"SLURM_PROCID", "4"}, {"SLURM_NTASKS", "4"}},
               "SLURM_PROCID=4 is not below SLURM_NTASKS=4");
  expect_error({{"WORLD_SIZE", "2"}}, "RANK (or SLURM_PROCID) is unset but WORLD_SIZE=2");
  expect_error({{"WORLD_SIZE", "0"}}, "WORLD_SIZE=0 is out of range [1, ");
  expect_error({{"WORLD_SIZE", "99999999999"}}, "WORLD_SIZE=\"99999999999\" is not an integer");
  expect_error({{"MASTER_PORT", "65536"}}, "MASTER_PORT=65536 is out of range [1, 65535]");
  expect_error({{"MASTER_PORT", "0"}}, "MASTER_PORT=0 is out of range [1, 65535]");
  expect_error({{"MASTER_PORT", "80x"}}, "MASTER_PORT=\"80x\" is not an integer");
  expect_error({{"LOCAL_RANK", "-2"}}, "LOCAL_RANK=-2 is out of range");
  expect_error({{"SLURM_LOCALID", "x"}}, "SLURM_LOCALID=\"x\" is not an integer");
  expect_error({{"MASTER_ADDR", ""}}, "MASTER_ADDR is set but empty");
}

}  // namespace
}  // namespace bitlab::trainer
