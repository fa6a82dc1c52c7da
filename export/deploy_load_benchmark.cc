// Loading a deployed ResNet-18 (the zoo's Fashion-MNIST shape) from a .bitlab file, once the
// file is in the page cache, beside the parts and the alternatives in the same run: building
// the deployed skeleton alone (load_deployed's construction; the rest of its time is checking
// and mapping the tensors), building and deploying the model from its config the usual way
// (random initialization, conversion, quantization), and loading the same model from a
// safetensors directory (AutoBitModel::save_pretrained).
//
//   bazel run -c opt //export:deploy_load_benchmark
#include <cstdlib>
#include <memory>
#include <string>

#include <benchmark/benchmark.h>

#include "bitlayers/deployed_skeleton.h"
#include "bitmodels/auto_bit_model.h"
#include "export/deploy_file.h"
#include "export/quantize_for_deployment.h"

namespace bitlab {
namespace {

AutoBitConfig resnet18_config() {
  return AutoBitConfig::from_json(
      {{"model_type", "resnet18"},
       {"quant_config", "ai8pc_wpt"},
       {"architecture",
        {{"image_size", 28}, {"in_channels", 1}, {"num_classes", 10}, {"stem", "small"}}}});
}

// The files, written once: a .bitlab file and a save_pretrained directory of the same model.
struct Files {
  std::string bitlab;
  std::string pretrained;
};
const Files& files() {
  static const Files written = [] {
    const char* tmp = std::getenv("TMPDIR");
    const std::string dir = std::string(tmp != nullptr ? tmp : "/tmp");
    std::shared_ptr<BitModel> model = AutoBitModel::from_config(resnet18_config());
    quantize_for_deployment(*model);
    Files f{dir + "/deploy_load_benchmark.bitlab", dir + "/deploy_load_benchmark_pretrained"};
    save_deployed(*model, f.bitlab);
    AutoBitModel::save_pretrained(*model, f.pretrained);
    return f;
  }();
  return written;
}

void BM_LoadDeployed(benchmark::State& state) {
  const std::string& path = files().bitlab;
  load_deployed(path);  // the file into the page cache
  for (auto _ : state) benchmark::DoNotOptimize(load_deployed(path));
}

void BM_BuildDeployedSkeleton(benchmark::State& state) {
  const AutoBitConfig config = resnet18_config();
  for (auto _ : state) {
    DeployedSkeletonScope skeleton;
    benchmark::DoNotOptimize(AutoBitModel::from_config(config));
  }
}

void BM_BuildAndDeployFromConfig(benchmark::State& state) {
  const AutoBitConfig config = resnet18_config();
  for (auto _ : state) {
    std::shared_ptr<BitModel> model = AutoBitModel::from_config(config);
    quantize_for_deployment(*model);
    benchmark::DoNotOptimize(model);
  }
}

void BM_FromPretrainedDirectory(benchmark::State& state) {
  const std::string& dir = files().pretrained;
  AutoBitModel::from_pretrained(dir);
  for (auto _ : state) benchmark::DoNotOptimize(AutoBitModel::from_pretrained(dir));
}

BENCHMARK(BM_LoadDeployed)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_BuildDeployedSkeleton)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_BuildAndDeployFromConfig)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_FromPretrainedDirectory)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace bitlab

BENCHMARK_MAIN();
