// Tutorial (docs/tutorials/writing_a_kernel.md): the example_unpacked kernel run through the
// bitlinear op directly, beside the reference kernel and the training (fake-quantized)
// forward, and what the registry says about a kernel it was not built with.
#include <cstdio>

#include <ATen/ops/allclose.h>
#include <ATen/ops/equal.h>
#include <torch/types.h>

#include "bitcore/bitlinear.h"
#include "bitcore/errors.h"
#include "bitcore/kernel_registry.h"
#include "bitcore/kernels/reference/reference_kernel.h"
#include "bitcore/quant_config.h"
#include "examples/unpacked_kernel.h"

int main() {
  torch::manual_seed(0);
  const bitlab::BitQuantConfig config = bitlab::BitQuantConfig::from_string("ai8pc_wpc");
  const torch::Tensor weight = torch::randn({256, 512});
  const torch::Tensor bias = torch::randn({256});
  const torch::Tensor x = torch::randn({8, 512});

  // Quantize and pack once (canonical t2), then repack for each kernel.
  const bitlab::bitlinear::PreparedWeights prepared =
      bitlab::bitlinear::prepare_weights(weight, config);
  const bitlab::bitlinear::KernelWeights ours =
      bitlab::bitlinear::pack_for_kernel(prepared, examples::unpacked_kernel());
  const bitlab::bitlinear::KernelWeights reference =
      bitlab::bitlinear::pack_for_kernel(prepared, bitlab::reference_kernel());
  std::printf("%s: %lld bytes of weights (t2: %lld)\n", ours.kernel->name(),
              static_cast<long long>(ours.packed.numel()),
              static_cast<long long>(prepared.qweight.numel()));

  torch::NoGradGuard no_grad;
  const torch::Tensor y = bitlab::bitlinear::forward_packed(x, ours, bias, config);
  const torch::Tensor y_reference = bitlab::bitlinear::forward_packed(x, reference, bias, config);
  const torch::Tensor y_training = bitlab::bitlinear::fake_quant_linear(x, weight, bias, config);
  const bool same = at::equal(y, y_reference);
  const bool agree = at::allclose(y, y_training, 1e-4, 1e-5);
  std::printf("outputs equal the reference kernel's: %s\n", same ? "yes" : "no");
  std::printf("outputs agree with the training forward: %s\n", agree ? "yes" : "no");

  // Kernels join the registry at build time only (bitcore/kernel_registry.cc).
  try {
    bitlab::KernelRegistry::get_kernel_by_name("example_unpacked", config);
  } catch (const bitlab::KernelNotFoundError& e) {
    std::printf("registry: %s\n", e.what());
  }
  return same && agree ? 0 : 1;
}
