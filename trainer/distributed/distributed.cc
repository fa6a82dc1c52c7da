#include "trainer/distributed/distributed.h"

#include <climits>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include <c10/util/Exception.h>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "bitcore/errors.h"

namespace bitlab::trainer {
namespace {

// An environment variable that is set: its name and value.
struct EnvValue {
  const char* name;
  std::string value;
};

// The first of `names` that is set, so a torchrun variable wins over its SLURM stand-in.
std::optional<EnvValue> first_set(std::initializer_list<const char*> names) {
  for (const char* name : names) {
    if (const char* value = std::getenv(name)) return EnvValue{name, value};
  }
  return std::nullopt;
}

int parse_int(const EnvValue& env, int min, int max) {
  int value = 0;
  if (!absl::SimpleAtoi(env.value, &value)) {
    throw BitLabError(absl::StrCat(env.name, "=\"", env.value, "\" is not an integer"));
  }
  if (value < min || value > max) {
    throw BitLabError(
        absl::StrCat(env.name, "=", env.value, " is out of range [", min, ", ", max, "]"));
  }
  return value;
}

void validate(const DistributedConfig& config) {
  if (config.world_size < 1 || config.rank < 0 || config.rank >= config.world_size) {
    throw BitLabError(absl::StrCat("DistributedConfig: rank ", config.rank,
                                   " is not in [0, world_size) with world_size ",
                                   config.world_size));
  }
  if (config.port < 1 || config.port > 65535) {
    throw BitLabError(
        absl::StrCat("DistributedConfig: port ", config.port, " is not in [1, 65535]"));
  }
  if (config.bucket_bytes < 1 || config.timeout.count() < 1) {
    throw BitLabError(absl::StrCat("DistributedConfig: bucket_bytes (", config.bucket_bytes,
                                   ") and timeout (", config.timeout.count(),
                                   " ms) must be positive"));
  }
  if (config.backend == "nccl") throw BitLabError("backend nccl needs a CUDA build");
  if (config.backend != "gloo") {
    throw BitLabError(absl::StrCat("DistributedConfig: unknown backend \"", config.backend,
                                   "\"; valid: gloo, nccl (CUDA builds)"));
  }
}

// The local address Gloo binds this rank to; the other ranks connect to it. GLOO_SOCKET_IFNAME
// picks an interface, as in PyTorch. A loopback master means every rank runs on this machine,
// and loopback then works even where the hostname does not resolve; otherwise the address the
// hostname resolves to (Gloo falls back to loopback itself).
std::shared_ptr<gloo::transport::Device> gloo_device(const std::string& master_addr) {
  const char* interface = std::getenv("GLOO_SOCKET_IFNAME");
  if (interface != nullptr && *interface != '\0') {
    return c10d::ProcessGroupGloo::createDeviceForInterface(interface);
  }
  if (master_addr == "localhost" || master_addr == "::1" || absl::StartsWith(master_addr, "127.")) {
    return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  }
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

// c10::Error's what() carries a C++ backtrace; the message alone is what a user needs.
std::string message_of(const std::exception& e) {
  const auto* error = dynamic_cast<const c10::Error*>(&e);
  return error != nullptr ? error->what_without_backtrace() : e.what();
}

// The defined tensors among `tensors`, each once: a module may register one tensor under two
// names (tied weights), and reducing it twice would waste a transfer.
std::vector<torch::Tensor> distinct_defined(const std::vector<torch::Tensor>& tensors) {
  std::vector<torch::Tensor> distinct;
  std::unordered_set<const c10::TensorImpl*> seen;
  for (const torch::Tensor& tensor : tensors) {
    if (tensor.defined() && seen.insert(tensor.unsafeGetTensorImpl()).second) {
      distinct.push_back(tensor);
    }
  }
  return distinct;
}

// Flattens `tensors`, in order, into buckets of one dtype and device holding at most
// `bucket_bytes` (a larger tensor goes alone), calls `reduce` on each flat bucket and copies the
// result back. The order of `tensors` fixes the buckets, so it must agree across ranks.
void for_each_bucket(const std::vector<torch::Tensor>& tensors, int64_t bucket_bytes,
                     const std::function<void(torch::Tensor&)>& reduce) {
  // Parameters are autograd leaves; writing into them must not be recorded.
  torch::NoGradGuard no_grad;
  for (size_t begin = 0, end = 0; begin < tensors.size(); begin = end) {
    const torch::Tensor& first = tensors[begin];
    int64_t bytes = 0;
    std::vector<torch::Tensor> pieces;
    for (end = begin; end < tensors.size(); ++end) {
      const torch::Tensor& tensor = tensors[end];
      if (tensor.is_sparse()) throw BitLabError("distributed: sparse tensors are not supported");
      const int64_t tensor_bytes = tensor.numel() * static_cast<int64_t>(tensor.element_size());
      if (end > begin &&
          (tensor.scalar_type() != first.scalar_type() || tensor.device() != first.device() ||
           bytes + tensor_bytes > bucket_bytes)) {
        break;
      }
      bytes += tensor_bytes;
      pieces.push_back(tensor.reshape({-1}));
    }
    // Gloo reads raw memory, so the bucket must be contiguous. A lone contiguous tensor is
    // reduced in place, without a copy.
    torch::Tensor flat = pieces.size() == 1 ? pieces[0].contiguous() : torch::cat(pieces);
    reduce(flat);
    int64_t offset = 0;
    for (size_t i = begin; i < end; ++i) {
      const torch::Tensor& tensor = tensors[i];
      if (!flat.is_alias_of(tensor)) {
        tensor.copy_(flat.narrow(0, offset, tensor.numel()).view_as(tensor));
      }
      offset += tensor.numel();
    }
  }
}

}  // namespace

DistributedConfig DistributedConfig::from_env() {
  DistributedConfig config;
  if (auto addr = first_set({"MASTER_ADDR"})) {
    if (addr->value.empty()) throw BitLabError("MASTER_ADDR is set but empty");
    config.master_addr = addr->value;
  }
  if (auto port = first_set({"MASTER_PORT"})) config.port = parse_int(*port, 1, 65535);
  const auto world_size = first_set({"WORLD_SIZE", "SLURM_NTASKS"});
  if (world_size) config.world_size = parse_int(*world_size, 1, INT_MAX);
  if (auto rank = first_set({"RANK", "SLURM_PROCID"})) {
    config.rank = parse_int(*rank, 0, INT_MAX);
    if (config.rank >= config.world_size) {
      throw BitLabError(
          absl::StrCat(rank->name, "=", rank->value, " is not below ",
                       world_size ? absl::StrCat(world_size->name, "=", world_size->value)
                                  : "the world size 1 (WORLD_SIZE and SLURM_NTASKS are unset)"));
    }
  } else if (config.world_size > 1) {
    // Every process would believe it is rank 0.
    throw BitLabError(absl::StrCat("RANK (or SLURM_PROCID) is unset but ", world_size->name, "=",
                                   world_size->value));
  }
  if (auto local_rank = first_set({"LOCAL_RANK", "SLURM_LOCALID"})) {
    config.local_rank = parse_int(*local_rank, 0, INT_MAX);
  }
  return config;
}

struct DistributedContext::Connection {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroup> group;
  int rank;

  // Runs one collective to completion. Failures (a peer gone, the timeout) become BitLabError.
  void run(const char* what, const std::function<c10::intrusive_ptr<c10d::Work>()>& start) {
    try {
      start()->wait();
    } catch (const std::exception& e) {
      throw BitLabError(
          absl::StrCat("distributed: ", what, " on rank ", rank, " failed: ", message_of(e)));
    }
  }

  void broadcast_from_main(torch::Tensor& tensor) {
    std::vector<torch::Tensor> tensors = {tensor};
    c10d::BroadcastOptions options;
    options.rootRank = 0;
    run("broadcast", [&] { return group->broadcast(tensors, options); });
  }

  void all_reduce_sum(torch::Tensor& tensor) {
    std::vector<torch::Tensor> tensors = {tensor};
    run("all-reduce", [&] { return group->allreduce(tensors); });
  }
};

DistributedContext::DistributedContext(DistributedConfig config) : config_(std::move(config)) {
  validate(config_);
  if (config_.world_size == 1) return;

  const std::string master = absl::StrCat(config_.master_addr, ":", config_.port);
  c10d::TCPStoreOptions store_options;
  store_options.port = static_cast<uint16_t>(config_.port);
  store_options.isServer = is_main();
  store_options.numWorkers = static_cast<size_t>(config_.world_size);
  store_options.waitWorkers = true;
  store_options.timeout = config_.timeout;
  auto connection = std::make_unique<Connection>();
  connection->rank = config_.rank;
  try {
    connection->store = c10::make_intrusive<c10d::TCPStore>(config_.master_addr, store_options);
  } catch (const std::exception& e) {
    // Rank 0 fails here only if it cannot listen: 1.13's TCPStore stops waiting for the other
    // ranks at the timeout without an error, so missing ranks surface when joining the group.
    throw BitLabError(is_main()
                          ? absl::StrCat("distributed: rank 0 could not serve the TCPStore on ",
                                         master, " (port in use?): ", message_of(e))
                          : absl::StrCat("distributed: rank ", config_.rank,
                                         " could not reach the master at ", master, " within ",
                                         config_.timeout.count(), " ms: ", message_of(e)));
  }

  auto group_options = c10d::ProcessGroupGloo::Options::create(config_.timeout);
  try {
    group_options->devices.push_back(gloo_device(config_.master_addr));
    connection->group = c10::make_intrusive<c10d::ProcessGroupGloo>(
        connection->store, config_.rank, config_.world_size, group_options);
  } catch (const std::exception& e) {
    throw BitLabError(absl::StrCat("distributed: rank ", config_.rank,
                                   " could not join the Gloo process group through ", master,
                                   " within ", config_.timeout.count(), " ms (are all ",
                                   config_.world_size, " ranks running?): ", message_of(e)));
  }
  connection_ = std::move(connection);
}

DistributedContext::~DistributedContext() = default;

void DistributedContext::barrier() {
  if (connection_ == nullptr) return;
  connection_->run("barrier", [&] { return connection_->group->barrier(); });
}

void DistributedContext::broadcast_parameters(torch::nn::Module& module) {
  if (connection_ == nullptr) return;
  std::vector<torch::Tensor> tensors = module.parameters();
  for (const torch::Tensor& buffer : module.buffers()) tensors.push_back(buffer);
  for_each_bucket(distinct_defined(tensors), config_.bucket_bytes,
                  [&](torch::Tensor& flat) { connection_->broadcast_from_main(flat); });
}

void DistributedContext::all_reduce_mean(const torch::Tensor& tensor) {
  // Checked for one rank too, so a program that works alone works distributed.
  if (!tensor.defined() || !tensor.is_floating_point()) {
    throw BitLabError(absl::StrCat(
        "all_reduce_mean needs a floating-point tensor, got ",
        tensor.defined() ? c10::toString(tensor.scalar_type()) : "an undefined tensor"));
  }
  all_reduce_mean_of({tensor});
}

void DistributedContext::all_reduce_gradients(torch::nn::Module& module) {
  std::vector<torch::Tensor> grads;
  for (const torch::Tensor& parameter : module.parameters()) grads.push_back(parameter.grad());
  all_reduce_mean_of(distinct_defined(grads));
}

void DistributedContext::all_reduce_mean_of(const std::vector<torch::Tensor>& tensors) {
  if (connection_ == nullptr) return;
  for_each_bucket(tensors, config_.bucket_bytes, [&](torch::Tensor& flat) {
    connection_->all_reduce_sum(flat);
    flat.div_(config_.world_size);
  });
}

}  // namespace bitlab::trainer
