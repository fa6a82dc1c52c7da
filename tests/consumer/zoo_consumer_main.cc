// Uses the model zoo through @bitlab//bitzoo the way a user's program would: builds LeNet-5 by
// its registry name, trains it a few steps, deploys it, saves it with save_pretrained, loads
// it back and classifies a PNG through the Pipeline; then loads the shipped pretrained
// lenet5-fmnist by name (found in @bitlab's runfiles, verified into a fresh cache) and
// classifies the same PNG. Exits non-zero when the loaded model does not compute what the
// saved one did or the pretrained one does not load.
#include <cstdio>
#include <cstdlib>
#include <string>

#include <ATen/ops/allclose.h>
#include <ATen/ops/randint.h>
#include <ATen/ops/randn.h>
#include <torch/nn/functional/loss.h>
#include <torch/optim/adamw.h>

#include "bitlayers/converter.h"
#include "bitmodels/auto_bit_model.h"
#include "bitzoo/pipeline/image_io.h"
#include "bitzoo/pipeline/pipeline.h"
#include "bitzoo/zoo.h"

int main() {
  std::printf("zoo: %zu entries\n", bitlab::bitzoo::list().size());
  const bitlab::AutoBitConfig config = bitlab::AutoBitConfig::from_json(
      {{"model_type", "lenet5"},
       {"quant_config", "ai8pc_wpt"},
       {"image_input",
        {{"channels", 1}, {"height", 28}, {"width", 28}, {"mean", {0.286}}, {"std", {0.353}}}}});
  std::shared_ptr<bitlab::BitModel> model = bitlab::AutoBitModel::from_config(config);
  torch::optim::AdamW adamw(model->parameters(), torch::optim::AdamWOptions(1e-3));
  const at::Tensor images = at::randn({8, 1, 28, 28});
  const at::Tensor labels = at::randint(0, 10, {8});
  for (int step = 0; step < 3; ++step) {
    adamw.zero_grad();
    torch::nn::functional::cross_entropy(model->forward(images), labels).backward();
    adamw.step();
  }
  bitlab::deploy_bit_layers(*model);
  const at::Tensor deployed = model->forward(images);

  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string dir = std::string(tmp != nullptr ? tmp : "/tmp") + "/lenet5-consumer";
  bitlab::AutoBitModel::save_pretrained(*model, dir);
  std::shared_ptr<bitlab::BitModel> loaded = bitlab::AutoBitModel::from_pretrained(dir);
  const bool agree = at::allclose(loaded->forward(images), deployed, 0, 0);

  bitlab::bitzoo::write_png(dir + "/digit.png", at::randint(0, 256, {28, 28, 1}, at::kByte));
  bitlab::bitzoo::Pipeline pipeline("image-classification", loaded);
  const auto top = pipeline.classify_file(dir + "/digit.png", 3);
  std::printf("top-1 %s (%.3f)\n", top.at(0).label.c_str(), top.at(0).score);
  std::printf("saved and loaded LeNet-5: %s\n", agree ? "agree" : "DISAGREE");

  setenv("BITLAB_CACHE", (dir + "/cache").c_str(), 1);
  bitlab::bitzoo::Pipeline pretrained("image-classification",
                                      bitlab::AutoBitModel::from_pretrained("lenet5-fmnist"));
  const auto pretrained_top = pretrained.classify_file(dir + "/digit.png", 3);
  std::printf("pretrained lenet5-fmnist: top-1 %s (%.3f)\n", pretrained_top.at(0).label.c_str(),
              pretrained_top.at(0).score);
  return agree && top.size() == 3 && pretrained_top.size() == 3 ? 0 : 1;
}
