// Tutorial (docs/tutorials/training_from_scratch.md): a ternary LeNet-5 trained from scratch on
// Fashion-MNIST with BitTrainer, in C++: the data set from Debian's dataset-fashion-mnist, batch
// loaders, a TrainingConfig, a run directory with checkpoints and metrics, then the trained
// model saved, deployed to packed 2-bit weights, evaluated again and saved deployed.
#include <cstdio>
#include <memory>
#include <utility>

#include <torch/types.h>

#include "bitlayers/converter.h"
#include "bitmodels/auto_bit_model.h"
#include "trainer/bit_trainer.h"
#include "trainer/data/datasets.h"
#include "trainer/data/image_dataset.h"
#include "trainer/data/loader.h"
#include "trainer/optim/training_config.h"

int main() {
  namespace trainer = bitlab::trainer;

  // The data: both splits, from /usr/share/datasets/fashion-mnist (data_dir "" = the default).
  trainer::ImageClassificationData train = trainer::load_dataset("fashion_mnist", "", "train");
  trainer::ImageClassificationData test = trainer::load_dataset("fashion_mnist", "", "test");
  std::printf("fashion_mnist: %lld training and %lld test images, %lld classes\n",
              static_cast<long long>(train.size()), static_cast<long long>(test.size()),
              static_cast<long long>(train.num_classes()));

  // The model: the zoo's LeNet-5, converted to ternary layers; its default rules keep the
  // first convolution and the classifier in float32.
  torch::manual_seed(0);
  const bitlab::AutoBitConfig model_config =
      bitlab::AutoBitConfig::from_json({{"model_type", "lenet5"}, {"quant_config", "ai8pc_wpt"}});
  bitlab::ConversionReport report;
  std::shared_ptr<bitlab::BitModel> model =
      bitlab::AutoBitModel::from_config(model_config, &report);
  std::printf("lenet5: %lld ternary layers, %lld kept in float32\n",
              static_cast<long long>(report.num_converted),
              static_cast<long long>(report.num_convertible_kept));

  // The run: 300 steps of AdamW with a cosine schedule, evaluated (and checkpointed) every 100.
  trainer::TrainingConfig config;
  config.max_steps = 300;
  config.batch_size = 64;
  config.optimizer.lr = 2e-3;
  config.schedule.name = "cosine";
  config.eval_every_steps = 100;
  config.log_every_steps = 100;

  trainer::LoaderOptions train_loading;
  train_loading.batch_size = config.batch_size;  // must match the config
  train_loading.seed = 0;
  train_loading.drop_last = true;
  trainer::LoaderOptions test_loading;
  test_loading.batch_size = 500;
  test_loading.shuffle = false;
  trainer::BatchLoader train_loader(
      trainer::ImageDataset(std::move(train), trainer::standard_augmentation("fashion_mnist")),
      train_loading);
  trainer::BatchLoader test_loader(trainer::ImageDataset(std::move(test)), test_loading);

  trainer::TrainerOptions options;
  options.output_dir = "lenet5-run";  // checkpoints/, metrics.jsonl, metrics.csv, report.html
  options.progress = trainer::ProgressMode::kLines;
  options.model_config = model_config.to_json();
  trainer::BitTrainer bit_trainer(model, config, train_loader, test_loader, options);
  double first_loss = 0;
  double last_loss = 0;
  bit_trainer.add_callback([&](const trainer::StepEvent& event) {
    (event.step == 1 ? first_loss : last_loss) = event.loss;
  });
  const trainer::TrainResult result = bit_trainer.train();
  std::printf("trained %lld steps: loss %.3f -> %.3f, test accuracy %.4f\n",
              static_cast<long long>(result.steps), first_loss, last_loss,
              result.final_metrics.at("eval_accuracy"));
  std::printf("best checkpoint: %s\n", result.best_checkpoint.c_str());

  // Save the trainable model, then deploy it (packed 2-bit weights, float weights freed) and
  // evaluate the deployed model itself before saving it too.
  bitlab::AutoBitModel::save_pretrained(*model, "lenet5-run/model");
  bitlab::deploy_bit_layers(*model);
  const trainer::EvalResult deployed =
      trainer::evaluate_model(*model, test_loader, {trainer::accuracy_metric()});
  const double accuracy = deployed.values.at("eval_accuracy");
  std::printf("deployed model: test accuracy %.4f on %lld images\n", accuracy,
              static_cast<long long>(deployed.samples));
  bitlab::SaveOptions save;
  save.dataset = "fashion_mnist";
  save.metrics = {{"test_accuracy", accuracy}};
  bitlab::AutoBitModel::save_pretrained(*model, "lenet5-run/deployed", save);
  return last_loss < first_loss && accuracy > 0.7 ? 0 : 1;
}
