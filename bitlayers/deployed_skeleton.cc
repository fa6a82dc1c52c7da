#include "bitlayers/deployed_skeleton.h"

#include <cstdint>
#include <vector>

#include <ATen/Functions.h>

#include "absl/strings/str_cat.h"
#include "bitcore/errors.h"

namespace bitlab {
namespace {

thread_local bool skeleton_active = false;

}  // namespace

DeployedSkeletonScope::DeployedSkeletonScope() : was_active_(skeleton_active) {
  skeleton_active = true;
}

DeployedSkeletonScope::~DeployedSkeletonScope() { skeleton_active = was_active_; }

bool building_deployed_skeleton() { return skeleton_active; }

// torch's layers initialize the parameters their constructors allocate. A skeleton is built
// at a size whose initialization costs nothing (one feature, one channel per group, one
// embedding), then given its real sizes in its options and uninitialized parameters of those
// sizes: the options and parameters are all the forward reads.

torch::nn::Linear make_linear(const torch::nn::LinearOptions& options) {
  if (!building_deployed_skeleton()) return torch::nn::Linear(options);
  torch::nn::Linear linear(torch::nn::LinearOptions(1, 1).bias(options.bias()));
  linear->options = options;
  linear->weight.set_data(at::empty({options.out_features(), options.in_features()}));
  if (options.bias()) linear->bias.set_data(at::empty({options.out_features()}));
  return linear;
}

torch::nn::Conv2d make_conv2d(const torch::nn::Conv2dOptions& options) {
  if (!building_deployed_skeleton()) return torch::nn::Conv2d(options);
  const int64_t groups = options.groups();
  // torch's constructor checks this; the small layer below cannot.
  if (groups <= 0 || options.in_channels() % groups != 0 || options.out_channels() % groups != 0) {
    throw BitLabError(
        absl::StrCat("Conv2d: groups = ", groups, " must be positive and divide in_channels = ",
                     options.in_channels(), " and out_channels = ", options.out_channels()));
  }
  torch::nn::Conv2dOptions small = options;
  small.in_channels(groups).out_channels(groups);
  torch::nn::Conv2d conv(small);
  conv->options.in_channels(options.in_channels()).out_channels(options.out_channels());
  std::vector<int64_t> shape = {options.out_channels(), options.in_channels() / groups};
  for (const int64_t k : *options.kernel_size()) shape.push_back(k);
  conv->weight.set_data(at::empty(shape));
  if (options.bias()) conv->bias.set_data(at::empty({options.out_channels()}));
  return conv;
}

torch::nn::Embedding make_embedding(const torch::nn::EmbeddingOptions& options) {
  if (!building_deployed_skeleton() || options._weight().defined()) {
    return torch::nn::Embedding(options);
  }
  const int64_t n = options.num_embeddings();
  torch::nn::EmbeddingOptions real = options;
  // torch's constructor checks padding_idx and makes a negative one count from the end.
  if (options.padding_idx().has_value()) {
    const int64_t pad = *options.padding_idx();
    if (pad >= n || pad < -n) {
      throw BitLabError(
          absl::StrCat("Embedding: padding_idx ", pad, " is out of range for num_embeddings ", n));
    }
    real.padding_idx(pad < 0 ? pad + n : pad);
  }
  torch::nn::EmbeddingOptions small = options;
  small.num_embeddings(1).padding_idx(c10::nullopt);
  torch::nn::Embedding embedding(small);
  embedding->options = real;
  embedding->weight.set_data(at::empty({n, options.embedding_dim()}));
  return embedding;
}

}  // namespace bitlab
