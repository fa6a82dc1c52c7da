// BitTrainer on a ternary MLP and a synthetic data set: it learns, accumulation equals a larger
// batch, early stopping and non-finite losses stop it, and a run killed with SIGKILL resumes
// from its newest good checkpoint to the same losses as a run that never stopped, also when
// that newest checkpoint is truncated.
#include "trainer/bit_trainer.h"

#include <cstdlib>
#include <fstream>
#include <map>
#include <string>

#include <ATen/Parallel.h>
#include <signal.h>
#include <sys/wait.h>
#include <torch/types.h>
#include <unistd.h>

#include "bitmodels/auto_bit_model.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "trainer/data/image_dataset.h"
#include "trainer/data/synthetic.h"

namespace bitlab {
namespace trainer {
namespace {

using ::testing::HasSubstr;

std::shared_ptr<BitModel> make_mlp() {
  torch::manual_seed(11);
  return AutoBitModel::from_config(AutoBitConfig::from_json(
      {{"model_type", "mlp"},
       {"quant_config", "ai8pc_wpt"},
       {"architecture",
        {{"in_channels", 1}, {"image_size", 16}, {"hidden_sizes", {32}}, {"num_classes", 10}}}}));
}

BatchLoader make_loader(uint64_t stream, int64_t samples, int64_t batch_size, bool shuffle) {
  SyntheticOptions data;
  data.samples = samples;
  data.sample_stream = stream;
  LoaderOptions options;
  options.batch_size = batch_size;
  options.shuffle = shuffle;
  options.seed = 5;
  options.drop_last = shuffle;
  return BatchLoader(ImageDataset(make_synthetic(data)), options);
}

TrainingConfig small_config() {
  TrainingConfig config;
  config.epochs = 2;
  config.batch_size = 16;
  config.log_every_steps = 4;
  config.seed = 3;
  config.threads = 1;
  config.optimizer.lr = 3e-3;
  return config;
}

std::string fresh_dir(const std::string& name) {
  const std::string dir = std::string(std::getenv("TEST_TMPDIR")) + "/" + name;
  EXPECT_EQ(std::system(("rm -rf '" + dir + "'").c_str()), 0);
  return dir;
}

// Losses by step of a run, recorded by a callback.
std::map<int64_t, double> train_recording(BitTrainer& trainer, TrainResult* result = nullptr) {
  std::map<int64_t, double> losses;
  trainer.add_callback([&](const StepEvent& e) { losses[e.step] = e.loss; });
  TrainResult r = trainer.train();
  if (result != nullptr) *result = r;
  return losses;
}

TEST(BitTrainerTest, LearnsAndWritesItsLogs) {
  const std::string dir = fresh_dir("learns");
  TrainerOptions options;
  options.output_dir = dir;
  options.progress = ProgressMode::kLines;
  BitTrainer trainer(make_mlp(), small_config(), make_loader(0, 512, 16, true),
                     make_loader(1, 256, 64, false), options);
  const double before = trainer.evaluate().values.at("eval_accuracy");
  TrainResult result;
  const std::map<int64_t, double> losses = train_recording(trainer, &result);
  EXPECT_EQ(result.steps, 64);  // 2 epochs of 32 steps
  EXPECT_EQ(losses.size(), 64u);
  EXPECT_LT(losses.rbegin()->second, losses.begin()->second);
  EXPECT_GT(result.final_metrics.at("eval_accuracy"), before + 0.3);
  for (const char* file : {"/metrics.jsonl", "/metrics.csv", "/report.html"}) {
    EXPECT_TRUE(std::ifstream(dir + file).good()) << file;
  }
  EXPECT_FALSE(result.best_checkpoint.empty());
}

TEST(BitTrainerTest, Bfloat16AutocastTrains) {
  TrainingConfig config = small_config();
  config.mixed_precision = "bf16";
  BitTrainer trainer(make_mlp(), config, make_loader(0, 512, 16, true),
                     make_loader(1, 256, 64, false), {});
  const double before = trainer.evaluate().values.at("eval_accuracy");
  const TrainResult result = trainer.train();
  EXPECT_GT(result.final_metrics.at("eval_accuracy"), before + 0.3);
}

TEST(BitTrainerTest, AccumulatedMicroBatchesEqualOneBatch) {
  TrainingConfig whole = small_config();
  whole.epochs = 1;
  whole.max_steps = 5;
  whole.optimizer.name = "sgd";
  whole.optimizer.weight_decay = 0;
  whole.optimizer.lr = 0.05;
  TrainingConfig halves = whole;
  halves.batch_size = 8;
  halves.grad_accumulation = 2;
  auto a = make_mlp();
  auto b = make_mlp();
  BitTrainer one(a, whole, make_loader(0, 256, 16, true), c10::nullopt, {});
  BitTrainer two(b, halves, make_loader(0, 256, 8, true), c10::nullopt, {});
  one.train();
  two.train();
  const auto pa = a->named_parameters();
  for (const auto& item : b->named_parameters()) {
    EXPECT_TRUE(torch::allclose(item.value(), pa[item.key()], 1e-4, 1e-6)) << item.key();
  }
}

TEST(BitTrainerTest, EarlyStoppingEndsARunThatStopsImproving) {
  TrainingConfig config = small_config();
  config.epochs = 20;
  config.optimizer.lr = 1e-12;  // nothing changes, so nothing improves
  config.eval_every_steps = 4;
  config.early_stopping.patience = 2;
  BitTrainer trainer(make_mlp(), config, make_loader(0, 256, 16, true),
                     make_loader(1, 128, 64, false), {});
  const TrainResult result = trainer.train();
  EXPECT_TRUE(result.early_stopped);
  EXPECT_EQ(result.steps, 12);  // the first evaluation sets the best; two more do not improve
}

TEST(BitTrainerTest, ANonFiniteLossStopsWithTheLastGoodCheckpointKept) {
  const std::string dir = fresh_dir("nan");
  TrainingConfig config = small_config();
  config.optimizer.name = "sgd";
  config.optimizer.weight_decay = 0;
  config.optimizer.lr = 1e30;
  config.checkpoint_every_steps = 1;
  TrainerOptions options;
  options.output_dir = dir;
  options.progress = ProgressMode::kLines;
  BitTrainer trainer(make_mlp(), config, make_loader(0, 256, 16, true), c10::nullopt, options);
  const TrainResult result = trainer.train();
  ASSERT_TRUE(result.stopped_on_nan);
  EXPECT_THAT(result.message, HasSubstr("the loss is"));
  EXPECT_THAT(result.message, HasSubstr(dir + "/checkpoints"));
  EXPECT_GE(result.steps, 1);
  EXPECT_TRUE(std::ifstream(dir + "/checkpoints/step-00000001/manifest.pb").good());
}

TEST(BitTrainerTest, KilledRunResumesToTheSameLosses) {
  at::set_num_threads(1);  // before fork: OpenMP's pool does not survive it
  TrainingConfig config = small_config();
  config.checkpoint_every_steps = 3;
  config.keep_last_checkpoints = 5;
  const std::string killed = fresh_dir("killed");
  TrainerOptions options;
  options.output_dir = killed;
  options.progress = ProgressMode::kLines;
  options.resume = true;

  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    BitTrainer trainer(make_mlp(), config, make_loader(0, 512, 16, true),
                       make_loader(1, 128, 64, false), options);
    trainer.add_callback([](const StepEvent& e) {
      if (e.step == 40) kill(getpid(), SIGKILL);  // mid-epoch 2, after the checkpoint at 39
    });
    trainer.train();
    _exit(3);  // not reached
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "status " << status;

  TrainerOptions reference_options;
  reference_options.output_dir = fresh_dir("reference");
  reference_options.progress = ProgressMode::kLines;
  BitTrainer reference(make_mlp(), config, make_loader(0, 512, 16, true),
                       make_loader(1, 128, 64, false), reference_options);
  TrainResult reference_result;
  const std::map<int64_t, double> expected = train_recording(reference, &reference_result);

  // The newest checkpoint (step 39) is truncated: resume must fall back to step 36.
  const std::string newest = killed + "/checkpoints/step-00000039/model.safetensors";
  std::ifstream in(newest, std::ios::binary);
  ASSERT_TRUE(in.good());
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::ofstream(newest, std::ios::binary | std::ios::trunc) << bytes.substr(0, bytes.size() - 9);

  BitTrainer resumed(make_mlp(), config, make_loader(0, 512, 16, true),
                     make_loader(1, 128, 64, false), options);
  TrainResult result;
  const std::map<int64_t, double> losses = train_recording(resumed, &result);
  EXPECT_THAT(result.resumed_from, HasSubstr("step-00000036"));
  ASSERT_EQ(losses.begin()->first, 37);
  ASSERT_EQ(losses.rbegin()->first, 64);
  for (const auto& [step, loss] : losses) {
    EXPECT_EQ(loss, expected.at(step)) << "step " << step;
  }
  EXPECT_EQ(result.final_metrics.at("eval_accuracy"),
            reference_result.final_metrics.at("eval_accuracy"));
}

}  // namespace
}  // namespace trainer
}  // namespace bitlab
