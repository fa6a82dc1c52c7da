// bitlab: the command line for what BitLab ships. One binary, one subcommand per task:
//
//   bazel run //tools:bitlab -- zoo                      the architectures and pretrained models
//   bazel run //tools:bitlab -- zoo resnet18-fmnist      one entry's model card
//   bazel run //tools:bitlab -- info lenet5-fmnist       architecture, parameters, memory per
//                                                        layer, and which kernel runs it here
//
// Models are named as AutoBitModel::from_pretrained takes them (a pretrained name, a directory
// save_pretrained wrote, a .safetensors file beside its config.json) or by architecture
// (model_type, built with its default fields). Exit codes: 0 done, 1 a model or file could not
// be used (the message names it), 2 a usage error.
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "bitcore/errors.h"
#include "bitcore/kernel_registry.h"
#include "bitlayers/memory_report.h"
#include "bitmodels/auto_bit_model.h"
#include "bitmodels/model_card.h"
#include "bitmodels/model_registry.h"
#include "bitmodels/pretrained.h"
#include "bitzoo/zoo.h"

namespace bitlab {
namespace {

constexpr int kUsageError = 2;

struct Subcommand {
  const char* usage;
  const char* summary;
  int (*run)(const std::vector<std::string>& args);
};

std::string read_text(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw BitLabError("cannot read " + path);
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

// A pretrained name, a saved directory or file, or else an architecture with default fields.
std::shared_ptr<BitModel> load_model(const std::string& name) {
  if (PretrainedRegistry::find(name) == nullptr && ModelRegistry::contains(name)) {
    AutoBitConfig config;
    config.model_type = name;
    std::shared_ptr<BitModel> model = AutoBitModel::from_config(config);
    model->eval();
    return model;
  }
  return AutoBitModel::from_pretrained(name);
}

int zoo(const std::vector<std::string>& args) {
  if (args.size() > 1) return kUsageError;
  if (args.size() == 1) {
    const std::string& name = args[0];
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

int info(const std::vector<std::string>& args) {
  if (args.size() != 1) return kUsageError;
  const std::shared_ptr<BitModel> model = load_model(args[0]);
  const ModelCard card = ModelCard::describe(*model, args[0]);
  std::printf("%s: %s (model_type %s)\n", args[0].c_str(), card.architecture.c_str(),
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

const std::map<std::string, Subcommand>& subcommands() {
  static const auto* commands = new std::map<std::string, Subcommand>{
      {"zoo",
       {"bitlab zoo [NAME]",
        "lists the zoo's architectures and pretrained models; with NAME, prints its model card",
        zoo}},
      {"info",
       {"bitlab info MODEL",
        "describes a model: architecture, parameters, memory per layer (float32 and deployed),\n"
        "and which ternary kernel its quantization runs on here, and why. MODEL is a pretrained\n"
        "name, a directory or .safetensors file save_pretrained wrote, or an architecture",
        info}},
  };
  return *commands;
}

void print_usage(FILE* out) {
  std::fprintf(out, "usage: bitlab <command> [arguments]; bitlab <command> --help\n\n");
  for (const auto& [name, command] : subcommands()) {
    std::fprintf(out, "  %-6s %s\n", name.c_str(), command.usage);
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
  std::vector<std::string> args(argv + 2, argv + argc);
  for (const std::string& arg : args) {
    if (arg == "--help" || arg == "-h") {
      std::printf("usage: %s\n\n%s\n", command.usage, command.summary);
      return 0;
    }
    if (arg.rfind("-", 0) == 0) {
      std::fprintf(stderr, "bitlab %s: unknown flag %s\nusage: %s\n", argv[1], arg.c_str(),
                   command.usage);
      return kUsageError;
    }
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
