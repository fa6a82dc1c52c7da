// Quickstart: a BitLinear layer trained a few steps with fake quantization, then deployed to
// packed 2-bit weights and run for inference on the kernel the registry picks. Prints the
// kernel, the loss before and after training, and whether training and deployed outputs agree.
#include <cstdio>

#include <ATen/ops/allclose.h>
#include <torch/nn/functional/loss.h>
#include <torch/optim/sgd.h>
#include <torch/types.h>

#include "bitcore/kernel_registry.h"
#include "bitcore/quant_config.h"
#include "bitlayers/bit_linear.h"

int main() {
  torch::manual_seed(0);
  const bitlab::BitQuantConfig config = bitlab::BitQuantConfig::from_string("ai8pc_wpt");
  bitlab::BitLinear layer(bitlab::BitLinearOptions(64, 16).quant_config(config));

  // Training: the float32 latent weight learns through the straight-through estimator.
  const torch::Tensor x = torch::randn({32, 64});
  const torch::Tensor target = torch::randn({32, 16});
  torch::optim::SGD sgd(layer->parameters(), torch::optim::SGDOptions(0.05));
  float first_loss = 0;
  float last_loss = 0;
  for (int step = 0; step < 20; ++step) {
    sgd.zero_grad();
    torch::Tensor loss = torch::nn::functional::mse_loss(layer(x), target);
    loss.backward();
    sgd.step();
    (step == 0 ? first_loss : last_loss) = loss.item<float>();
  }
  std::printf("loss %.4f -> %.4f\n", first_loss, last_loss);

  // Inference: deploy() packs the ternary weights and frees the float ones, for good.
  const torch::Tensor trained = layer(x).detach();
  layer->deploy();
  torch::NoGradGuard no_grad;
  const torch::Tensor deployed = layer(x);
  std::printf("kernel: %s\n", bitlab::KernelRegistry::get_kernel_for_config(config).name());
  std::printf("output %lld x %lld, deployed bytes %lld (float32: %lld)\n",
              static_cast<long long>(deployed.size(0)), static_cast<long long>(deployed.size(1)),
              static_cast<long long>(layer->deployed_bytes()),
              static_cast<long long>(layer->float_bytes()));
  const bool agree = at::allclose(deployed, trained, 1e-4, 1e-5);
  std::printf("training and deployed outputs %s\n", agree ? "agree" : "DISAGREE");
  return agree && last_loss < first_loss ? 0 : 1;
}
