// Deployed skeletons: models built only so that every tensor can be filled from a file next.
//
// Building a model the usual way initializes every float weight at random, converts the float
// layers to Bit layers (copying the weights) and deploys them (quantizing and packing): for a
// ResNet-18 that is ~0.5 s of work whose results a loader then overwrites. While a
// DeployedSkeletonScope lives on a thread, the same construction code builds a skeleton:
//   - Bit layers constructed on the thread are born deployed: `qweight`, `qweight_scale` and
//     the bias buffer have their deployed shapes and dtypes, uninitialized; the float weight is
//     the empty tensor deploy() leaves. BitConverter's from_torch constructors copy nothing.
//   - make_linear / make_conv2d / make_embedding below build torch layers whose parameters
//     have their shapes but are not initialized (nothing is written to them, so the memory is
//     not even touched).
//   - Model constructors skip their own weight initialization (building_deployed_skeleton()).
// Every parameter and buffer of a skeleton holds garbage until the caller fills it, which is
// what bitlab::load_deployed does, checking that each one has its tensor in the file.
//
// Example (what load_deployed does):
//   std::shared_ptr<BitModel> model;
//   {
//     bitlab::DeployedSkeletonScope skeleton;
//     model = bitlab::AutoBitModel::from_config(config);
//   }
//   ... point every tensor of model at its data ...
#ifndef BITLAB_BITLAYERS_DEPLOYED_SKELETON_H_
#define BITLAB_BITLAYERS_DEPLOYED_SKELETON_H_

#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/options/conv.h>
#include <torch/nn/options/embedding.h>
#include <torch/nn/options/linear.h>

namespace bitlab {

/// Makes the layers built on this thread skeletons while it lives (see the file comment).
/// Scopes nest.
class DeployedSkeletonScope {
 public:
  DeployedSkeletonScope();
  ~DeployedSkeletonScope();
  DeployedSkeletonScope(const DeployedSkeletonScope&) = delete;
  DeployedSkeletonScope& operator=(const DeployedSkeletonScope&) = delete;

 private:
  bool was_active_;
};

/// Whether a DeployedSkeletonScope lives on this thread.
bool building_deployed_skeleton();

/// torch::nn::Linear(options), or, while building a skeleton, the same layer with its weight
/// and bias allocated but not initialized.
torch::nn::Linear make_linear(const torch::nn::LinearOptions& options);
/// torch::nn::Conv2d(options), or its skeleton (as make_linear).
torch::nn::Conv2d make_conv2d(const torch::nn::Conv2dOptions& options);
/// torch::nn::Embedding(options), or its skeleton (as make_linear).
torch::nn::Embedding make_embedding(const torch::nn::EmbeddingOptions& options);

}  // namespace bitlab

#endif  // BITLAB_BITLAYERS_DEPLOYED_SKELETON_H_
