// Tutorial (docs/tutorials/converting_a_pytorch_model.md): a float32 checkpoint of a zoo
// architecture (LeNet-5 in safetensors with torch's state-dict names, as PyTorch's
// safetensors.torch.save_file writes one) loaded into the float architecture, converted with
// the architecture's default rules, fine-tuned with BitTrainer, deployed, written as a .bitlab
// file and loaded back.
#include <cstdio>
#include <memory>

#include <ATen/ops/equal.h>
#include <torch/types.h>

#include "bitcore/quant_config.h"
#include "bitlayers/converter.h"
#include "bitmodels/auto_bit_model.h"
#include "export/deploy_file.h"
#include "export/quantize_for_deployment.h"
#include "export/safetensors_export.h"
#include "trainer/bit_trainer.h"
#include "trainer/data/datasets.h"
#include "trainer/data/image_dataset.h"
#include "trainer/data/loader.h"
#include "trainer/optim/training_config.h"

namespace trainer = bitlab::trainer;

namespace {

trainer::TrainingConfig steps_of_adamw(int64_t steps, double lr) {
  trainer::TrainingConfig config;
  config.max_steps = steps;
  config.batch_size = 64;
  config.optimizer.lr = lr;
  config.eval_every_steps = steps;  // evaluate once, at the end
  config.log_every_steps = steps;
  return config;
}

}  // namespace

int main() {
  trainer::LoaderOptions train_loading;
  train_loading.batch_size = 64;
  train_loading.drop_last = true;
  trainer::LoaderOptions test_loading;
  test_loading.batch_size = 500;
  test_loading.shuffle = false;
  const trainer::BatchLoader train_data(
      trainer::ImageDataset(trainer::load_dataset("fashion_mnist", "", "train")), train_loading);
  const trainer::BatchLoader test_data(
      trainer::ImageDataset(trainer::load_dataset("fashion_mnist", "", "test")), test_loading);
  const std::vector<trainer::Metric> metrics = {trainer::accuracy_metric()};

  // A stand-in for a checkpoint trained elsewhere: the float32 LeNet-5 (precision "float32"
  // builds the architecture unconverted), trained briefly and exported with torch's names.
  const bitlab::AutoBitConfig float_config =
      bitlab::AutoBitConfig::from_json({{"model_type", "lenet5"}, {"precision", "float32"}});
  torch::manual_seed(0);
  std::shared_ptr<bitlab::BitModel> pretrained = bitlab::AutoBitModel::from_config(float_config);
  trainer::BitTrainer(pretrained, steps_of_adamw(300, 2e-3), train_data, test_data, {}).train();
  bitlab::export_float_safetensors(*pretrained, "lenet5-float.safetensors");

  // 1. The float architecture with the checkpoint's weights (every tensor checked by name,
  //    shape and dtype before any is copied).
  std::shared_ptr<bitlab::BitModel> model = bitlab::AutoBitModel::from_config(float_config);
  bitlab::import_float_safetensors(*model, "lenet5-float.safetensors");
  std::printf("float32: test accuracy %.4f\n",
              trainer::evaluate_model(*model, test_data, metrics).values.at("eval_accuracy"));

  // 2. Convert with the architecture's default rules (conv1 and fc3 stay float32), and record
  //    in its config what it now is, so that files saved from it rebuild the same model.
  const bitlab::BitQuantConfig quant = bitlab::BitQuantConfig::from_string("ai8pc_wpt");
  const bitlab::ConversionReport report =
      bitlab::BitConverter::convert(*model, quant, model->default_rules());
  model->config.precision = "ternary";
  model->config.quant_config = quant;
  std::printf("%s", report.to_string().c_str());
  std::printf("converted: test accuracy %.4f\n",
              trainer::evaluate_model(*model, test_data, metrics).values.at("eval_accuracy"));

  // 3. Fine-tune the ternary model: quantization-aware training from the float weights.
  const trainer::TrainResult tuned =
      trainer::BitTrainer(model, steps_of_adamw(200, 5e-4), train_data, test_data, {}).train();
  std::printf("fine-tuned: test accuracy %.4f\n", tuned.final_metrics.at("eval_accuracy"));

  // 4. Deploy, write one .bitlab file, load it back and check it computes the same logits.
  std::printf("%s\n", bitlab::quantize_for_deployment(*model).to_string().c_str());
  bitlab::save_deployed(*model, "lenet5-converted.bitlab");
  std::shared_ptr<bitlab::BitModel> loaded = bitlab::load_deployed("lenet5-converted.bitlab");
  torch::NoGradGuard no_grad;
  const torch::Tensor images = model->example_input(/*batch=*/8);
  const bool same = at::equal(model->forward(images), loaded->forward(images));
  std::printf("lenet5-converted.bitlab: the loaded model computes %s logits\n",
              same ? "the same" : "DIFFERENT");
  return same && report.num_converted == 3 ? 0 : 1;
}
