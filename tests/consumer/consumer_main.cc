// Runs a ternary linear layer through @bitlab//bitcore the way a user's program would: trains
// a step's forward with fake quantization, runs the deployed kernel path, and checks that the
// two agree. Exits non-zero on disagreement.
#include <cstdio>

#include <ATen/TensorOperators.h>
#include <ATen/ops/allclose.h>
#include <ATen/ops/randn.h>

#include "bitcore/bitlinear.h"
#include "bitcore/kernel_registry.h"
#include "bitcore/quant_config.h"

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
  const bool agree = at::allclose(eval, train, 1e-4, 1e-5);
  std::printf("train vs eval max difference %g: %s\n", max_diff, agree ? "agree" : "DISAGREE");
  return agree ? 0 : 1;
}
