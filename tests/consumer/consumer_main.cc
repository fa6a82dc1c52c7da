// Runs ternary layers through @bitlab//bitcore and @bitlab//bitlayers the way a user's program
// would: the op with fake quantization and on the deployed kernel path, a BitLinear module
// trained and deployed, and a small convolutional model converted with BitConverter and
// deployed; checks that training and deployment agree. Exits non-zero on disagreement.
#include <cstdio>

#include <ATen/TensorOperators.h>
#include <ATen/ops/allclose.h>
#include <ATen/ops/randn.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>

#include "bitcore/bitlinear.h"
#include "bitcore/kernel_registry.h"
#include "bitcore/quant_config.h"
#include "bitlayers/bit_linear.h"
#include "bitlayers/converter.h"
#include "bitlayers/memory_report.h"

int main() {
  const bitlab::BitQuantConfig config = bitlab::BitQuantConfig::from_string("ai8pc_wpt");
  const at::Tensor x = at::randn({4, 64});
  const at::Tensor weight = at::randn({32, 64});
  const at::Tensor bias = at::randn({32});
  const at::Tensor train = bitlab::bitlinear::forward(x, weight, bias, config, /*training=*/true);
  const auto prepared = bitlab::bitlinear::prepare_weights(weight, config);
  const at::Tensor eval = bitlab::bitlinear::forward_prepared(x, prepared, bias, config);
  std::printf("%s", bitlab::KernelRegistry::explain(config).c_str());
  const float max_diff = (train - eval).abs().max().item<float>();
  bitlab::BitLinear layer(bitlab::BitLinearOptions(64, 32).quant_config(config));
  const at::Tensor layer_train = layer(x).detach();
  layer->deploy();
  const at::Tensor layer_deployed = layer(x);
  std::printf("BitLinear deployed: %s\n", layer->is_deployed() ? "yes" : "no");
  // A float model converted in place: both convolutions become BitConv2d.
  torch::nn::Sequential model(torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 16, 3).padding(1)),
                              torch::nn::ReLU(),
                              torch::nn::Conv2d(torch::nn::Conv2dOptions(16, 8, 3).stride(2)));
  const bitlab::ConversionReport report = bitlab::BitConverter::convert(*model, config);
  const at::Tensor image = at::randn({2, 3, 12, 12});
  const at::Tensor model_train = model->forward(image).detach();
  bitlab::deploy_bit_layers(*model);
  const at::Tensor model_deployed = model->forward(image);
  std::printf("converted %lld layers; %s\n", static_cast<long long>(report.num_converted),
              bitlab::memory_report(*model).to_string().c_str());
  const bool agree = at::allclose(eval, train, 1e-4, 1e-5) &&
                     at::allclose(layer_deployed, layer_train, 1e-4, 1e-5) &&
                     report.num_converted == 2 &&
                     at::allclose(model_deployed, model_train, 1e-4, 1e-5);
  std::printf("train vs eval max difference %g: %s\n", max_diff, agree ? "agree" : "DISAGREE");
  return agree ? 0 : 1;
}
