#include "trainer/train_command.h"

#include <torch/utils.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bitcore/errors.h"
#include "bitlayers/converter.h"
#include "bitmodels/auto_bit_model.h"
#include "bitmodels/config_fields.h"
#include "bitmodels/json_file.h"
#include "trainer/command_flags.h"
#include "trainer/data/datasets.h"
#include "trainer/data/image_dataset.h"
#include "trainer/distributed/distributed.h"

namespace bitlab {
namespace trainer {
namespace {

// --quant: a compact string, inline JSON, or a JSON file.
nlohmann::json quant_json(const TrainCommand& command) {
  const std::string& quant = command.quant;
  if (!quant.empty() && quant[0] == '{') return parse_json_flag("--quant", quant);
  if (quant.find(".json") != std::string::npos) {
    return read_json_file(resolve_user_path(command.working_dir, quant), "--quant");
  }
  return quant;
}

// The architecture fields that fit `model` to the data set's images. Language models do not
// train on images: say so rather than fail on a field.
nlohmann::json architecture_for(const std::string& model, const ImageClassificationData& data) {
  if (model == "gpt" || model == "bert") {
    throw ConfigError(absl::StrCat("--model=", model,
                                   " is a language model; //trainer:train trains image "
                                   "classifiers (--dataset ",
                                   absl::StrJoin(dataset_names(), ", "), ")"));
  }
  if (data.height() != data.width()) {
    throw ConfigError(absl::StrCat("the data set's images are ", data.height(), "x", data.width(),
                                   "; the zoo's image models take square images"));
  }
  const int64_t size = data.height();
  nlohmann::json fields = {
      {"num_classes", data.num_classes()}, {"in_channels", data.channels()}, {"image_size", size}};
  const bool has_stem =
      (model.rfind("resnet", 0) == 0 && model != "resnet20") || model == "mobilenet_v2";
  if (has_stem) {
    fields["stem"] = size <= 64 ? "small" : "imagenet";
  } else if (model.rfind("vit", 0) == 0) {
    fields["patch_size"] = size >= 112 && size % 16 == 0 ? 16 : (size % 4 == 0 ? 4 : 1);
  }
  return fields;
}

// --architecture: a JSON object whose fields replace those architecture_for() chose.
void apply_architecture_flag(const std::string& flag, nlohmann::json& fields) {
  if (flag.empty()) return;
  const nlohmann::json overrides = parse_json_flag("--architecture", flag);
  if (!overrides.is_object()) {
    throw ConfigError(absl::StrCat("--architecture: expected a JSON object, got ", flag));
  }
  for (const auto& [key, value] : overrides.items()) fields[key] = value;
}

ImageClassificationData first_samples(ImageClassificationData data, int64_t count) {
  if (count <= 0 || count >= data.size()) return data;
  data.images = data.images.narrow(0, 0, count).contiguous();
  data.labels = data.labels.narrow(0, 0, count).contiguous();
  return data;
}

}  // namespace

TrainingConfig training_config_for(const TrainCommand& command) {
  nlohmann::json json = config_flag_json(command.working_dir, command.config);
  if (command.epochs >= 0) json["epochs"] = command.epochs;
  if (command.max_steps >= 0) json["max_steps"] = command.max_steps;
  if (command.batch_size >= 0) json["batch_size"] = command.batch_size;
  if (command.threads >= 0) json["threads"] = command.threads;
  if (command.seed >= 0) json["seed"] = command.seed;
  if (!command.device.empty()) json["device"] = command.device;
  if (command.eval_every >= 0) json["eval_every_steps"] = command.eval_every;
  if (command.early_stop_patience >= 0) {
    json["early_stopping"]["patience"] = command.early_stop_patience;
  }
  if (!command.optimizer.empty()) json["optimizer"]["name"] = command.optimizer;
  if (command.lr >= 0) json["optimizer"]["lr"] = command.lr;
  if (!command.schedule.empty()) {
    json["schedule"]["name"] = command.schedule;
  } else if (command.config.empty()) {
    json["schedule"]["name"] = "cosine";  // the command's recipe: decay to 0 over the run
  }
  return TrainingConfig::from_json(json, command.config.empty() ? "flags" : command.config);
}

TrainSummary run_train_command(const TrainCommand& command) {
  const TrainingConfig config = training_config_for(command);
  if (config.device != "cpu") {
    throw ConfigError(absl::StrCat("--device=", config.device,
                                   ": this build trains on the CPU only (device \"cpu\")"));
  }
  const std::string data_dir = resolve_user_path(command.working_dir, command.data_dir);
  ImageClassificationData train = load_dataset(command.dataset, data_dir, "train");
  ImageClassificationData test =
      first_samples(load_dataset(command.dataset, data_dir, "test"), command.eval_samples);

  AutoBitConfig model_config;
  model_config.model_type = command.model;
  if (command.precision != "ternary" && command.precision != "float32") {
    throw ConfigError(
        absl::StrCat("--precision=", command.precision, ": expected ternary or float32"));
  }
  model_config.precision = command.precision;
  model_config.quant_config =
      AutoBitConfig::from_json(
          {{"model_type", command.model}, {"quant_config", quant_json(command)}}, "--quant")
          .quant_config;
  if (!command.fp32_layers.empty()) {
    model_config.keep_float = std::vector<std::string>{command.fp32_layers};
  }
  model_config.architecture = architecture_for(command.model, train);
  apply_architecture_flag(command.architecture, model_config.architecture);
  ImageInput input;
  input.channels = train.channels();
  input.height = train.height();
  input.width = train.width();
  input.mean = train.mean;
  input.std = train.stddev;
  input.labels = train.class_names;
  model_config.image_input = input;
  // The initial weights are the seed's too, so a recipe gives the same run every time.
  torch::manual_seed(static_cast<uint64_t>(config.seed));
  std::shared_ptr<BitModel> model = AutoBitModel::from_config(model_config);

  if (command.resume && command.output_dir.empty()) {
    throw ConfigError("--resume needs --output_dir: the run directory to continue");
  }
  TrainerOptions options;
  options.output_dir = run_directory(command.working_dir, command.output_dir, command.model);
  options.resume = command.resume;
  options.progress = command.progress;
  options.model_config = model_config.to_json();

  // Started by torchrun or srun (WORLD_SIZE > 1): one process per rank, each on its shard.
  DistributedContext distributed(DistributedConfig::from_env());
  options.distributed = &distributed;
  const bool main_rank = distributed.is_main();

  LoaderOptions train_loading;
  train_loading.rank = distributed.rank();
  train_loading.world_size = distributed.world_size();
  train_loading.batch_size = config.batch_size;
  train_loading.workers = command.workers;
  train_loading.seed = static_cast<uint64_t>(config.seed);
  train_loading.drop_last = true;
  LoaderOptions test_loading = train_loading;
  test_loading.shuffle = false;
  test_loading.drop_last = false;
  const std::string dataset = command.dataset;
  BatchLoader train_loader(ImageDataset(std::move(train), standard_augmentation(dataset)),
                           train_loading);
  BatchLoader test_loader(ImageDataset(test), test_loading);

  BitTrainer trainer(model, config, std::move(train_loader), test_loader, options);
  if (main_rank) {
    std::fprintf(stderr, "training %s (%s) on %s for %lld steps; writing to %s\n",
                 command.model.c_str(), model_config.quant_config.to_string().c_str(),
                 dataset.c_str(), static_cast<long long>(trainer.total_steps()),
                 options.output_dir.c_str());
  }
  TrainSummary summary;
  summary.output_dir = options.output_dir;
  summary.main_rank = main_rank;
  summary.result = trainer.train();
  if (summary.result.stopped_on_nan || !main_rank) return summary;

  // The trained model, then its deployed copy (packed ternary weights), evaluated on the test
  // split so the number reported is the deployed model's own.
  SaveOptions save;
  save.name = absl::StrCat(command.model, "-", dataset);
  save.dataset = dataset;
  save.training_recipe = config.to_json().dump();
  AutoBitModel::save_pretrained(*model, options.output_dir + "/model", save);
  std::shared_ptr<BitModel> deployed = AutoBitModel::from_pretrained(options.output_dir + "/model");
  deploy_bit_layers(*deployed);
  LoaderOptions whole_test = test_loading;  // rank 0 alone, on the whole test split
  whole_test.rank = 0;
  whole_test.world_size = 1;
  summary.deployed_accuracy =
      evaluate_model(*deployed, BatchLoader(ImageDataset(test), whole_test), {accuracy_metric()})
          .values.at("eval_accuracy");
  save.metrics = {{"test_accuracy", summary.deployed_accuracy}};
  AutoBitModel::save_pretrained(*deployed, options.output_dir + "/deployed", save);
  return summary;
}

}  // namespace trainer
}  // namespace bitlab
