// Distributed data parallel training on libtorch's c10d: every process (rank) holds a full copy
// of the model, trains on its own shard of each batch, and averages gradients with the others
// before each optimizer step, so all ranks take identical steps.
//
// DistributedConfig says who this process is (rank, world size) and where rank 0 listens;
// from_env() reads what torchrun (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT) or
// SLURM's srun (SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID) export. DistributedContext connects
// the ranks: rank 0 serves a TCPStore, everyone joins a Gloo process group through it. With one
// rank there is no store and no process group, and every collective does nothing, so the same
// training loop runs alone or distributed.
//
// Every rank must make the same collective calls in the same order, on modules of the same
// architecture with the same parameters holding gradients; otherwise ranks wait on each other
// until the timeout.
//
// Example (run as `torchrun --nproc_per_node=2 train` or `srun -n 2 train`):
//   bitlab::trainer::DistributedContext dist(bitlab::trainer::DistributedConfig::from_env());
//   dist.broadcast_parameters(*model);  // all ranks start from rank 0's weights
//   for (...) {
//     optimizer.zero_grad();
//     loss_fn(model->forward(shard_of_batch)).backward();
//     dist.all_reduce_gradients(*model);  // gradients averaged over ranks
//     optimizer.step();
//   }
//   if (dist.is_main()) save(model);
#ifndef BITLAB_TRAINER_DISTRIBUTED_DISTRIBUTED_H_
#define BITLAB_TRAINER_DISTRIBUTED_DISTRIBUTED_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <torch/nn/module.h>
#include <torch/types.h>

namespace bitlab::trainer {

struct DistributedConfig {
  /// Address of rank 0, which serves the TCPStore the ranks meet through.
  std::string master_addr = "127.0.0.1";
  /// Port of rank 0's TCPStore.
  int port = 29500;
  /// This process's index in [0, world_size).
  int rank = 0;
  /// Number of processes. 1 means no distribution at all.
  int world_size = 1;
  /// This process's index among the processes on its machine (selects a GPU, for example).
  int local_rank = 0;
  /// "gloo" (CPU); "nccl" needs a CUDA build.
  std::string backend = "gloo";
  /// How long to wait for the master and the other ranks to connect, and for one collective.
  std::chrono::milliseconds timeout = std::chrono::minutes(5);
  /// all_reduce_gradients flattens gradients into buckets of at most this many bytes, one
  /// all-reduce each: few large messages beat many small ones. A larger gradient goes alone.
  int64_t bucket_bytes = 25 * 1024 * 1024;

  /// Reads RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT; where RANK, WORLD_SIZE
  /// or LOCAL_RANK is unset, SLURM_PROCID, SLURM_NTASKS or SLURM_LOCALID stand in. Unset
  /// variables keep the defaults above (so nothing set means one process). Multi-node SLURM
  /// jobs must export MASTER_ADDR (srun does not). Throws BitLabError naming the variable and
  /// its value if a number does not parse or is out of range, or RANK is missing while
  /// WORLD_SIZE > 1.
  static DistributedConfig from_env();
};

class DistributedContext {
 public:
  /// For world_size > 1, connects to the other ranks (blocking until all joined, at most
  /// config.timeout). Throws BitLabError for an unknown backend, "nccl" in a CPU build, an
  /// unreachable master, or a port rank 0 cannot listen on.
  explicit DistributedContext(DistributedConfig config);
  ~DistributedContext();
  DistributedContext(const DistributedContext&) = delete;
  DistributedContext& operator=(const DistributedContext&) = delete;

  int rank() const { return config_.rank; }
  int world_size() const { return config_.world_size; }
  int local_rank() const { return config_.local_rank; }
  /// Whether this is rank 0, the one that should log and save.
  bool is_main() const { return config_.rank == 0; }
  const DistributedConfig& config() const { return config_; }

  /// Returns once every rank has called barrier().
  void barrier();

  /// Overwrites every parameter and buffer of `module` with rank 0's.
  void broadcast_parameters(torch::nn::Module& module);

  /// Replaces `tensor` in place by its mean over the ranks. It must be floating point.
  void all_reduce_mean(const torch::Tensor& tensor);

  /// Replaces each parameter's gradient by its mean over the ranks, bucketed by
  /// config.bucket_bytes. Parameters without a gradient are skipped; which ones have one must
  /// agree across ranks.
  void all_reduce_gradients(torch::nn::Module& module);

 private:
  // The store and the process group; null for one rank. Kept out of this header so c10d's
  // headers (and the defines they need) stay inside distributed.cc.
  struct Connection;

  // Averages `tensors` in place over the ranks, bucketed by config_.bucket_bytes.
  void all_reduce_mean_of(const std::vector<torch::Tensor>& tensors);

  DistributedConfig config_;
  std::unique_ptr<Connection> connection_;
};

}  // namespace bitlab::trainer

#endif  // BITLAB_TRAINER_DISTRIBUTED_DISTRIBUTED_H_
