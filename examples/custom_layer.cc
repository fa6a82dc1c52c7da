// Tutorial (docs/tutorials/custom_layers.md): a ternary layer of one's own, BitGatedLinear
// (bit_gated_linear.h), in a model beside libtorch layers: BitConverter converts the Linear
// layers around it and recognizes it as a Bit layer, training reaches its latent weights
// through the straight-through estimator, training and eval agree within the numerics
// contract, memory_report counts it, and deploy_bit_layers deploys it.
#include <cstdio>

#include <ATen/ops/allclose.h>
#include <ATen/ops/equal.h>
#include <torch/nn/functional/loss.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/adamw.h>
#include <torch/types.h>

#include "bitcore/quant_config.h"
#include "bitlayers/converter.h"
#include "bitlayers/memory_report.h"
#include "examples/bit_gated_linear.h"

int main() {
  torch::manual_seed(0);
  const bitlab::BitQuantConfig config = bitlab::BitQuantConfig::from_string("ai8pc_wpt");
  examples::BitGatedLinear glu(examples::BitGatedLinearOptions(64, 128).quant_config(config));
  torch::nn::Sequential model(torch::nn::Linear(32, 64), glu, torch::nn::Linear(128, 10));

  // The converter turns the Linear layers into BitLinear layers (the classifier, child "2",
  // stays float32) and leaves the gated layer alone: it is a bitlab::BitLayer already.
  bitlab::ConversionRule classifier;
  classifier.pattern = "^2$";
  classifier.keep_float = true;
  const bitlab::ConversionReport report =
      bitlab::BitConverter::convert(*model, config, {classifier});
  std::printf("layer 0: %s, layer 1: %s (%s)\n", bitlab::to_string(report.find("0")->status),
              bitlab::to_string(report.find("1")->status), report.find("1")->reason.c_str());

  // Training: fake quantization with the straight-through estimator.
  const torch::Tensor x = torch::randn({256, 32});
  const torch::Tensor labels = torch::randint(0, 10, {256});
  torch::optim::AdamW adamw(model->parameters(), torch::optim::AdamWOptions(3e-3));
  double first_loss = 0;
  double last_loss = 0;
  for (int step = 0; step < 100; ++step) {
    adamw.zero_grad();
    torch::Tensor loss = torch::nn::functional::cross_entropy(model->forward(x), labels);
    loss.backward();
    if (step == 0) {
      std::printf("gradients reach gate_weight: %s, up_weight: %s\n",
                  glu->gate_weight.grad().abs().sum().item<float>() > 0 ? "yes" : "no",
                  glu->up_weight.grad().abs().sum().item<float>() > 0 ? "yes" : "no");
    }
    adamw.step();
    (step == 0 ? first_loss : last_loss) = loss.item<double>();
  }
  std::printf("loss %.4f -> %.4f\n", first_loss, last_loss);

  // Eval runs the packed weights on the registry's kernel and agrees with training's forward
  // within the numerics contract's tolerances.
  torch::NoGradGuard no_grad;
  const torch::Tensor h = torch::randn({16, 64});
  const torch::Tensor trained = glu->forward(h);
  glu->eval();
  const torch::Tensor evaluated = glu->forward(h);
  const bool agree = at::allclose(evaluated, trained, 1e-4, 1e-5);
  std::printf("training and eval outputs %s\n", agree ? "agree" : "DISAGREE");

  // memory_report and deploy_bit_layers find the layer through bitlab::BitLayer.
  std::printf("%s", bitlab::memory_report(*model).to_string().c_str());
  bitlab::deploy_bit_layers(*model);
  const bool same = at::equal(glu->forward(h), evaluated);
  std::printf("deployed: %s, %lld bytes (float32: %lld), output %s\n",
              glu->is_deployed() ? "yes" : "no", static_cast<long long>(glu->deployed_bytes()),
              static_cast<long long>(glu->float_bytes()), same ? "unchanged" : "CHANGED");
  return agree && same && last_loss < first_loss ? 0 : 1;
}
