// Deployment: a pretrained model deployed, written as one .bitlab file, and loaded back by
// mapping the file; both compute the same logits. Prints the memory report, the file's size
// and the two models' agreement.
#include <cstdio>
#include <string>

#include <ATen/ops/equal.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "bitmodels/auto_bit_model.h"
#include "export/deploy_file.h"
#include "export/quantize_for_deployment.h"

int main(int argc, char** argv) {
  const std::string path = argc > 1 ? argv[1] : "lenet5.bitlab";
  std::shared_ptr<bitlab::BitModel> model = bitlab::AutoBitModel::from_pretrained("lenet5-fmnist");
  const bitlab::DeploymentReport report = bitlab::quantize_for_deployment(*model);
  std::printf("%s\n", report.to_string().c_str());

  bitlab::save_deployed(*model, path);
  bitlab::verify_deployed_file(path);  // every tensor's SHA-256, for audits
  std::shared_ptr<bitlab::BitModel> loaded = bitlab::load_deployed(path);

  torch::NoGradGuard no_grad;
  const torch::Tensor images = model->example_input(8);
  const bool same = at::equal(model->forward(images), loaded->forward(images));
  std::printf("wrote %s; the loaded model %s\n", path.c_str(),
              same ? "computes the same logits" : "DIFFERS");
  return same ? 0 : 1;
}
