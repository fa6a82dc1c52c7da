// The C++ half of torchscript_export_interop_test: builds zoo models (int8 activations,
// calibrated and deployed: export_test_models.h), exports each with to_torchscript, and writes
// the input it was run on and BitLab's output beside it, as the buffers "input" and "expected"
// of a TorchScript module (a container Python's torch.jit.load reads without BitLab).
//
//   torchscript_export_interop_tool <dir>
//
// Writes <dir>/<name>.pt and <dir>/<name>.io.pt per model, and <dir>/models.txt listing the
// names.
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <torch/csrc/jit/api/module.h>
#include <torch/types.h>

#include "export/export_test_models.h"
#include "export/torchscript_export.h"

namespace {

struct Model {
  const char* name;
  const char* config;
};

constexpr Model kModels[] = {
    {"mlp", R"({"model_type": "mlp", "quant_config": "ai8pc_wpt"})"},
    {"lenet5", R"({"model_type": "lenet5", "quant_config": "ai8pt_wpc"})"},
    {"resnet18", R"({"model_type": "resnet18", "quant_config": "ai8pc_wpt"})"},
    {"mobilenet_v2", R"({"model_type": "mobilenet_v2", "quant_config": "ai8pc_wpc",
                         "architecture": {"stem": "small", "num_classes": 10}})"},
};

void export_one(const Model& spec, const std::string& dir) {
  const std::shared_ptr<bitlab::BitModel> model =
      bitlab::testing::export_test_model(spec.config, /*deploy=*/true);
  torch::NoGradGuard no_grad;
  torch::manual_seed(7);
  const at::Tensor input = model->example_input(2);
  const at::Tensor expected = model->forward(input);
  bitlab::to_torchscript(*model, dir + "/" + spec.name + ".pt");

  torch::jit::Module io(c10::QualifiedName("__torch__.bitlab.ExpectedOutput"));
  io.register_buffer("input", input);
  io.register_buffer("expected", expected);
  io.save(dir + "/" + spec.name + ".io.pt");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <dir>\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  try {
    std::ofstream names(dir + "/models.txt");
    for (const Model& spec : kModels) {
      export_one(spec, dir);
      names << spec.name << "\n";
      std::printf("exported %s\n", spec.name);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "torchscript_export_interop_tool: %s\n", e.what());
    return 1;
  }
  return 0;
}
