// bitlab: the command line for what BitLab ships. One binary, one subcommand per task:
//
//   bazel run //tools:bitlab -- zoo                      the architectures and pretrained models
//   bazel run //tools:bitlab -- zoo resnet18-fmnist      one entry's model card
//   bazel run //tools:bitlab -- info lenet5-fmnist       architecture, parameters, memory per
//                                                        layer, and which kernel runs it here
//   bazel run //tools:bitlab -- eval lenet5-fmnist       accuracy on a data set's test split
//   bazel run //tools:bitlab -- deploy lenet5-fmnist --out=lenet5.bitlab
//                                                        the deployed model as one mmap-able file
//   bazel run //tools:bitlab -- export lenet5-fmnist --out=lenet5.safetensors
//                                                        float32 weights under torch's names
//   bazel run //tools:bitlab -- export lenet5-fmnist --out=lenet5.onnx --format=onnx
//                                                        an ONNX model for onnxruntime & co.
//   bazel run //tools:bitlab -- export lenet5-fmnist --format=torchscript --out=lenet5.pt
//                                                        a module torch.jit.load runs
//   bazel run //tools:bitlab -- convert resnet18.safetensors --model_type=resnet18 --out=r18
//                                                        a float32 checkpoint made ternary
//   bazel run //tools:bitlab -- benchmark resnet18-fmnist --batch=32
//                                                        latency, throughput, memory, kernel
//
// Models are named as AutoBitModel::from_pretrained takes them (a pretrained name, a directory
// save_pretrained wrote, a .safetensors file beside its config.json), by a .bitlab file, or by
// architecture (model_type, built with its default fields). Exit codes: 0 done, 1 a model or file
// could not be used (the message names it), 2 a usage error.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <ATen/Parallel.h>
#include <nlohmann/json.hpp>
#include <torch/csrc/autograd/grad_mode.h>

#include "absl/strings/match.h"
#include "bitcore/errors.h"
#include "bitcore/kernel_registry.h"
#include "bitlayers/memory_report.h"
#include "bitmodels/auto_bit_model.h"
#include "bitmodels/model_card.h"
#include "bitmodels/model_registry.h"
#include "bitmodels/pretrained.h"
#include "bitzoo/zoo.h"
#include "export/checkpoint_converter.h"
#include "export/deploy_file.h"
#include "export/onnx_export.h"
#include "export/quantize_for_deployment.h"
#include "export/safetensors_export.h"
#include "export/torchscript_export.h"
#include "tools/layer_profile.h"
#include "trainer/bit_trainer.h"
#include "trainer/data/datasets.h"
#include "trainer/data/image_dataset.h"

namespace bitlab {
namespace {

constexpr int kUsageError = 2;

// A subcommand's positional arguments and its --name=value flags.
struct Arguments {
  std::vector<std::string> positional;
  std::map<std::string, std::string> flags;

  std::string flag(const std::string& name, const std::string& fallback = "") const {
    const auto found = flags.find(name);
    return found == flags.end() ? fallback : found->second;
  }
};

struct Subcommand {
  const char* usage;
  const char* summary;
  std::vector<std::string> flags;
  int (*run)(const Arguments& args);
};

std::string read_text(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw BitLabError("cannot read " + path);
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

// `bazel run` starts the binary in its runfiles: a relative path means the user's directory.
std::string user_path(const std::string& path) {
  const char* dir = std::getenv("BUILD_WORKING_DIRECTORY");
  if (path.empty() || path[0] == '/' || dir == nullptr) return path;
  return std::string(dir) + "/" + path;
}

// A pretrained name, an architecture (with its default fields), a .bitlab deploy file, or a
// saved directory or file.
std::shared_ptr<BitModel> load_model(const std::string& name) {
  if (PretrainedRegistry::find(name) != nullptr) return AutoBitModel::from_pretrained(name);
  if (absl::EndsWith(name, ".bitlab")) return load_deployed(user_path(name));
  if (ModelRegistry::contains(name)) {
    AutoBitConfig config;
    config.model_type = name;
    std::shared_ptr<BitModel> model = AutoBitModel::from_config(config);
    model->eval();
    return model;
  }
  return AutoBitModel::from_pretrained(user_path(name));
}

int zoo(const Arguments& args) {
  if (args.positional.size() > 1) return kUsageError;
  if (args.positional.size() == 1) {
    const std::string& name = args.positional[0];
    // A pretrained entry's card is the one shipped with it, comparisons and latency included.
    if (const PretrainedSource* source = PretrainedRegistry::find(name)) {
      std::fputs(read_text(fetch_pretrained(*source) + "/README.md").c_str(), stdout);
    } else {
      std::fputs(bitzoo::model_card(name).to_markdown().c_str(), stdout);
    }
    return 0;
  }
  for (const bitzoo::ZooEntry& entry : bitzoo::list()) {
    std::printf("%-18s %-12s %s\n", entry.name.c_str(),
                entry.pretrained ? "pretrained" : "architecture", entry.description.c_str());
  }
  return 0;
}

int info(const Arguments& args) {
  if (args.positional.size() != 1) return kUsageError;
  const std::string& name = args.positional[0];
  const std::shared_ptr<BitModel> model = load_model(name);
  const ModelCard card = ModelCard::describe(*model, name);
  std::printf("%s: %s (model_type %s)\n", name.c_str(), card.architecture.c_str(),
              card.model_type.c_str());
  std::printf("precision %s, quantization %s, %lld parameters\n", model->config.precision.c_str(),
              card.quantization.c_str(), static_cast<long long>(card.parameters));
  std::printf("inputs: %s\n\n%s\n", card.intended_inputs.c_str(),
              memory_report(*model).to_string().c_str());
  if (model->config.precision == "ternary") {
    std::printf("\nkernel selection for %s:\n%s", card.quantization.c_str(),
                KernelRegistry::explain(model->config.quant_config).c_str());
  }
  return 0;
}

int eval(const Arguments& args) {
  if (args.positional.size() != 1) return kUsageError;
  const std::shared_ptr<BitModel> model = load_model(args.positional[0]);
  const std::string dataset = args.flag("dataset", "fashion_mnist");
  trainer::LoaderOptions loading;
  loading.batch_size = 100;
  loading.shuffle = false;
  const trainer::BatchLoader test(trainer::ImageDataset(trainer::load_dataset(
                                      dataset, user_path(args.flag("data_dir")), "test")),
                                  loading);
  std::fprintf(stderr, "evaluating %s on %lld %s test images...\n", args.positional[0].c_str(),
               static_cast<long long>(test.samples_per_epoch()), dataset.c_str());
  const trainer::EvalResult result =
      trainer::evaluate_model(*model, test, {trainer::accuracy_metric()});
  std::printf("accuracy %.4f, loss %.4f (%lld samples of %s)\n", result.values.at("eval_accuracy"),
              result.values.at("eval_loss"), static_cast<long long>(result.samples),
              dataset.c_str());
  return 0;
}

int export_model(const Arguments& args) {
  if (args.positional.size() != 1 || args.flag("out").empty()) return kUsageError;
  const std::string format = args.flag("format", "safetensors");
  if (format != "safetensors" && format != "onnx" && format != "torchscript") {
    throw BitLabError("--format=" + format + ": expected safetensors, onnx or torchscript");
  }
  const std::string onnx_mode = args.flag("onnx_mode");
  if (format != "onnx" && !onnx_mode.empty()) {
    throw BitLabError("--onnx_mode=" + onnx_mode + ": only for --format=onnx");
  }
  const OnnxMode mode = onnx_mode_from_string(onnx_mode.empty() ? "float" : onnx_mode);
  const std::shared_ptr<BitModel> model = load_model(args.positional[0]);
  if (format == "onnx") {
    OnnxExportOptions options;
    options.mode = mode;
    export_onnx(*model, user_path(args.flag("out")), options);
    std::printf("wrote %s: ONNX (opset %lld, %s mode, batch symbolic)\n", args.flag("out").c_str(),
                static_cast<long long>(options.opset), to_string(mode));
    return 0;
  }
  if (format == "torchscript") {
    to_torchscript(*model, user_path(args.flag("out")));
    std::printf(
        "wrote %s: a TorchScript module (torch.jit.load runs it; ternary weights and "
        "their scales as float32)\n",
        args.flag("out").c_str());
    return 0;
  }
  export_float_safetensors(*model, user_path(args.flag("out")));
  std::printf("wrote %s: float32 weights under torch's names (ternary weights dequantized)\n",
              args.flag("out").c_str());
  return 0;
}

int convert(const Arguments& args) {
  if (args.positional.size() != 1 || args.flag("model_type").empty() || args.flag("out").empty()) {
    return kUsageError;
  }
  nlohmann::json config_json = {{"model_type", args.flag("model_type")}};
  if (!args.flag("architecture").empty()) {
    const nlohmann::json architecture =
        nlohmann::json::parse(args.flag("architecture"), nullptr, /*allow_exceptions=*/false);
    if (!architecture.is_object()) {
      throw BitLabError("--architecture=" + args.flag("architecture") +
                        ": expected a JSON object of the architecture's fields");
    }
    config_json["architecture"] = architecture;
  }
  if (!args.flag("quant_config").empty()) config_json["quant_config"] = args.flag("quant_config");
  if (!args.flag("keep_float").empty()) {
    config_json["keep_float"] = nlohmann::json::array({args.flag("keep_float")});
  }
  const std::string checkpoint = user_path(args.positional[0]);
  std::fprintf(stderr, "converting %s to a ternary %s...\n", checkpoint.c_str(),
               args.flag("model_type").c_str());
  const ConvertedCheckpoint converted =
      convert_checkpoint(checkpoint, AutoBitConfig::from_json(config_json));
  std::printf("%s\n", converted.report.to_string().c_str());
  const std::string out = user_path(args.flag("out"));
  if (absl::EndsWith(out, ".bitlab")) {
    const DeploymentReport report = quantize_for_deployment(*converted.model);
    save_deployed(*converted.model, out);
    std::printf("wrote %s: %s\n", args.flag("out").c_str(), report.to_string().c_str());
  } else {
    AutoBitModel::save_pretrained(*converted.model, out);
    std::printf("wrote %s: a trainable ternary model (from_pretrained loads it)\n",
                args.flag("out").c_str());
  }
  return 0;
}

int deploy(const Arguments& args) {
  if (args.positional.size() != 1 || args.flag("out").empty()) return kUsageError;
  const std::shared_ptr<BitModel> model = load_model(args.positional[0]);
  const DeploymentReport report = quantize_for_deployment(*model);
  save_deployed(*model, user_path(args.flag("out")));
  std::printf("wrote %s: %s\n", args.flag("out").c_str(), report.to_string().c_str());
  return 0;
}

// A positive integer flag; a usage error otherwise.
int64_t positive_flag(const Arguments& args, const std::string& name, int64_t fallback) {
  const std::string text = args.flag(name, std::to_string(fallback));
  char* end = nullptr;
  const long long value = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || value < 1) {
    throw BitLabError("--" + name + "=" + text + ": expected a positive integer");
  }
  return value;
}

int benchmark(const Arguments& args) {
  if (args.positional.size() != 1) return kUsageError;
  const int64_t batch = positive_flag(args, "batch", 1);
  const int64_t iterations = positive_flag(args, "iterations", 20);
  const std::shared_ptr<BitModel> model = load_model(args.positional[0]);
  const DeploymentReport deployment = quantize_for_deployment(*model);
  model->eval();
  const at::Tensor input = model->example_input(batch);
  torch::NoGradGuard no_grad;
  model->forward(input);  // warm-up: first-touch allocations and weight packing
  std::vector<double> milliseconds;
  for (int64_t i = 0; i < iterations; ++i) {
    const auto start = std::chrono::steady_clock::now();
    model->forward(input);
    milliseconds.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
            .count());
    std::fprintf(stderr, "\rforward %lld/%lld", static_cast<long long>(i + 1),
                 static_cast<long long>(iterations));
  }
  std::fprintf(stderr, "\n");
  std::sort(milliseconds.begin(), milliseconds.end());
  const double median = milliseconds[milliseconds.size() / 2];
  std::printf(
      "%s, batch %lld, %d threads: median %.3f ms per forward (min %.3f, max %.3f over "
      "%lld), %.1f samples/s\n",
      args.positional[0].c_str(), static_cast<long long>(batch), at::get_num_threads(), median,
      milliseconds.front(), milliseconds.back(), static_cast<long long>(iterations),
      1000.0 * batch / median);
  std::printf("memory: %s held by the deployed model\n",
              format_bytes(deployment.bytes_after).c_str());
  if (model->config.precision == "ternary") {
    std::printf("kernel: %s\n",
                KernelRegistry::get_kernel_for_config(model->config.quant_config).name());
  }
  if (args.flag("per_layer", "false") != "false") {
    std::fprintf(stderr, "profiling each layer over %lld forwards...\n",
                 static_cast<long long>(iterations));
    std::printf("\nper layer (median of %lld forwards; Bit layers name their kernel):\n%s",
                static_cast<long long>(iterations),
                format_layer_profile(
                    profile_layers([&] { model->forward(input); }, static_cast<int>(iterations)))
                    .c_str());
  }
  return 0;
}

const std::map<std::string, Subcommand>& subcommands() {
  static const auto* commands = new std::map<std::string, Subcommand>{
      {"zoo",
       {"bitlab zoo [NAME]",
        "lists the zoo's architectures and pretrained models; with NAME, prints its model card",
        {},
        zoo}},
      {"info",
       {"bitlab info MODEL",
        "describes a model: architecture, parameters, memory per layer (float32 and deployed),\n"
        "and which ternary kernel its quantization runs on here, and why. MODEL is a pretrained\n"
        "name, a .bitlab file, a directory or .safetensors file save_pretrained wrote, or an\n"
        "architecture",
        {},
        info}},
      {"eval",
       {"bitlab eval MODEL [--dataset=fashion_mnist] [--data_dir=DIR]",
        "runs an image classifier over a data set's whole test split (fashion_mnist, mnist,\n"
        "cifar10, cifar100) and prints its accuracy and loss",
        {"dataset", "data_dir"},
        eval}},
      {"deploy",
       {"bitlab deploy MODEL --out=FILE.bitlab",
        "deploys the model (packed ternary weights, float weights freed) and writes it as a\n"
        ".bitlab file, which every other command takes as MODEL and which loads by mmap",
        {"out"},
        deploy}},
      {"export",
       {"bitlab export MODEL --out=FILE [--format=safetensors|onnx|torchscript] "
        "[--onnx_mode=float|int8]",
        "safetensors (the default): writes the float32 architecture the model was converted\n"
        "from (ternary weights dequantized) under torch's state-dict names.\n"
        "onnx: writes an ONNX model (opset 17, batch symbolic, other dimensions those of the\n"
        "model's example input) that computes what BitLab's deployed model computes, checked by\n"
        "onnx::checker; --onnx_mode=float (the default) stores ternary weights as float32 and\n"
        "uses plain MatMul / Conv, int8 stores them in 1 byte each and uses MatMulInteger /\n"
        "ConvInteger. Exports the zoo's mlp, lenet5, resnet*, vit_* and gpt.\n"
        "torchscript: writes a TorchScript module of the model's inference forward that\n"
        "Python's torch.jit.load runs (the zoo's mlp, lenet5, ResNets and mobilenet_v2)",
        {"out", "format", "onnx_mode"},
        export_model}},
      {"convert",
       {"bitlab convert CHECKPOINT --model_type=TYPE --out=DIR|FILE.bitlab [--architecture=JSON] "
        "[--quant_config=ai8pc_wpt] [--keep_float=REGEX]",
        "makes a trained float32 checkpoint ternary: builds the architecture (model_type and\n"
        "its fields as a JSON object), loads CHECKPOINT (a .safetensors file with torch's\n"
        "state-dict names, or a libtorch archive .pt of the float model), converts it with\n"
        "BitConverter (the architecture's default rules, or --keep_float's regex of layers to\n"
        "keep in float32), prints the conversion report, and writes a save_pretrained\n"
        "directory, or a deployed .bitlab file when --out ends in .bitlab",
        {"model_type", "architecture", "quant_config", "keep_float", "out"},
        convert}},
      {"benchmark",
       {"bitlab benchmark MODEL [--batch=1] [--iterations=20] [--per_layer=true]",
        "deploys the model and times its forward on example inputs of the batch size: median,\n"
        "min and max latency, throughput, the memory the deployed model holds, and the kernel\n"
        "its quantization runs on here. --per_layer=true adds each layer's median time and\n"
        "share of the forward (each Bit layer with its kernel, each float layer as its torch\n"
        "operator). For reported numbers use the *_benchmark binaries",
        {"batch", "iterations", "per_layer"},
        benchmark}},
  };
  return *commands;
}

void print_usage(FILE* out) {
  std::fprintf(out, "usage: bitlab <command> [arguments]; bitlab <command> --help\n\n");
  for (const auto& [name, command] : subcommands()) {
    std::fprintf(out, "  %-9s %s\n", name.c_str(), command.usage);
  }
}

int run(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "help") {
    print_usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? kUsageError : 0;
  }
  const auto found = subcommands().find(argv[1]);
  if (found == subcommands().end()) {
    std::fprintf(stderr, "bitlab: unknown command '%s'\n", argv[1]);
    print_usage(stderr);
    return kUsageError;
  }
  const Subcommand& command = found->second;
  Arguments args;
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::printf("usage: %s\n\n%s\n", command.usage, command.summary);
      return 0;
    }
    if (arg.rfind("-", 0) != 0) {
      args.positional.push_back(arg);
      continue;
    }
    const size_t equals = arg.find('=');
    const std::string name =
        arg.substr(2, equals == std::string::npos ? std::string::npos : equals - 2);
    if (arg.rfind("--", 0) != 0 || equals == std::string::npos ||
        std::find(command.flags.begin(), command.flags.end(), name) == command.flags.end()) {
      std::fprintf(stderr, "bitlab %s: unknown flag %s\nusage: %s\n", argv[1], arg.c_str(),
                   command.usage);
      return kUsageError;
    }
    args.flags[name] = arg.substr(equals + 1);
  }
  try {
    const int status = command.run(args);
    if (status == kUsageError) std::fprintf(stderr, "usage: %s\n", command.usage);
    return status;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bitlab %s: %s\n", argv[1], e.what());
    return 1;
  }
}

}  // namespace
}  // namespace bitlab

int main(int argc, char** argv) { return bitlab::run(argc, argv); }
