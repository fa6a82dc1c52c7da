// Tutorial (docs/tutorials/converting_a_pytorch_model.md): a float32 torch::nn model, trained
// briefly on Fashion-MNIST, converted to ternary layers with BitConverter (the classifier kept
// in float32 by a rule), fine-tuned, then deployed. Prints the conversion report and the test
// accuracy at each stage.
#include <cstdio>

#include <torch/nn/functional/loss.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/adamw.h>
#include <torch/types.h>

#include "bitcore/quant_config.h"
#include "bitlayers/converter.h"
#include "export/quantize_for_deployment.h"
#include "trainer/data/datasets.h"
#include "trainer/data/image_dataset.h"
#include "trainer/data/loader.h"

namespace trainer = bitlab::trainer;

namespace {

// `steps` AdamW steps on the batches of `epoch`, like any libtorch training loop.
void train_steps(torch::nn::Sequential& model, const trainer::BatchLoader& data, int64_t epoch,
                 int steps, double lr) {
  model->train();
  torch::optim::AdamW adamw(model->parameters(), torch::optim::AdamWOptions(lr));
  trainer::EpochReader reader = data.epoch(epoch);
  for (int step = 0; step < steps; ++step) {
    const trainer::Batch batch = reader.next().value();
    adamw.zero_grad();
    torch::nn::functional::cross_entropy(model->forward(batch.images), batch.labels).backward();
    adamw.step();
  }
}

double accuracy(torch::nn::Sequential& model, const trainer::BatchLoader& data) {
  model->eval();
  torch::NoGradGuard no_grad;
  int64_t correct = 0;
  int64_t total = 0;
  trainer::EpochReader reader = data.epoch(0);
  while (c10::optional<trainer::Batch> batch = reader.next()) {
    correct += model->forward(batch->images).argmax(1).eq(batch->labels).sum().item<int64_t>();
    total += batch->labels.size(0);
  }
  return static_cast<double>(correct) / static_cast<double>(total);
}

}  // namespace

int main() {
  trainer::LoaderOptions train_loading;
  train_loading.batch_size = 64;
  trainer::LoaderOptions test_loading;
  test_loading.batch_size = 500;
  test_loading.shuffle = false;
  const trainer::BatchLoader train_data(
      trainer::ImageDataset(trainer::load_dataset("fashion_mnist", "", "train")), train_loading);
  const trainer::BatchLoader test_data(
      trainer::ImageDataset(trainer::load_dataset("fashion_mnist", "", "test")), test_loading);

  // A float32 model, as you would write it in libtorch, trained as usual.
  torch::manual_seed(0);
  torch::nn::Sequential model(torch::nn::Flatten(), torch::nn::Linear(784, 256), torch::nn::ReLU(),
                              torch::nn::Linear(256, 128), torch::nn::ReLU(),
                              torch::nn::Linear(128, 10));
  train_steps(model, train_data, /*epoch=*/0, /*steps=*/300, /*lr=*/1e-3);
  std::printf("float32: test accuracy %.4f\n", accuracy(model, test_data));

  // Convert in place: every Linear becomes a BitLinear with the same weights, except the
  // classifier (child "5" of the Sequential), which a rule keeps in float32.
  bitlab::ConversionRule classifier;
  classifier.pattern = "^5$";
  classifier.keep_float = true;
  classifier.name = "classifier";
  const bitlab::ConversionReport report = bitlab::BitConverter::convert(
      *model, bitlab::BitQuantConfig::from_string("ai8pc_wpt"), {classifier});
  std::printf("%s", report.to_string().c_str());
  std::printf("converted: test accuracy %.4f\n", accuracy(model, test_data));

  // Fine-tune: a new optimizer, since the converted layers hold new parameters.
  train_steps(model, train_data, /*epoch=*/1, /*steps=*/200, /*lr=*/5e-4);
  std::printf("fine-tuned: test accuracy %.4f\n", accuracy(model, test_data));

  // Deploy: packed 2-bit weights, float weights freed (irreversible).
  const bitlab::DeploymentReport deployed = bitlab::quantize_for_deployment(*model);
  std::printf("%s\n", deployed.to_string().c_str());
  std::printf("deployed: test accuracy %.4f\n", accuracy(model, test_data));
  return report.num_converted == 2 && deployed.layers_deployed == 2 ? 0 : 1;
}
