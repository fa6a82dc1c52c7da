// The C++ half of onnx_export_interop_test: builds zoo models (seeded, deployed), runs them on
// random inputs and writes, for each model and ONNX mode, the exported .onnx file and a
// safetensors file with the input and BitLab's output, plus manifest.json listing them:
//
//   onnx_export_interop_tool <scratch dir>
//
// manifest.json: [{"name", "onnx", "tensors", "mode", "input_name", "rtol"}]; the tensors file
// holds "input" (float32 images or int64 ids) and "expected" (BitLab's deployed output).
// The models are exported for batch 1 and run with batch 3, which checks the symbolic batch.
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/csrc/autograd/grad_mode.h>
#include <torch/types.h>

#include "bitcore/errors.h"
#include "bitcore/io/safetensors.h"
#include "bitlayers/converter.h"
#include "bitmodels/auto_bit_model.h"
#include "export/onnx_export.h"

namespace {

struct Case {
  std::string name;
  nlohmann::json config;
  double float_rtol;  // the float mode's tolerance; int8's is 1e-3
};

// One of each architecture, their quantization settings varied so that every activation and
// weight granularity and float32 activations are covered; sizes kept small for a quick test.
// `config` is an AutoBitConfig, or the name of a shipped pretrained model.
//
// Rounding flips: where a quantizer's input differs from BitLab's in the last bit (onnxruntime's
// GELU, softmax, LayerNorm and float matrix products do not round exactly as libtorch's), it
// can round one value to the neighbouring integer, which moves the output by up to ~1/127 of
// that value's contribution; deep ViTs accumulate such flips (random-initialized vit_tiny of
// depth 4: 1e-2, of depth 12: 2e-2; the trained vit-tiny-fmnist: 4e-4). So the ViT-Tiny
// checked at 1e-3 in both modes is the trained one, and a random one-block ViT-Tiny is checked
// at the float tolerance; the other models see no flips (errors below 1e-6).
std::vector<Case> cases() {
  return {
      {"mlp", {{"model_type", "mlp"}, {"quant_config", "ai8pc_wpt"}}, 1e-4},
      {"lenet5", {{"model_type", "lenet5"}, {"quant_config", "ai8pt_wpc"}}, 1e-4},
      {"resnet18",
       {{"model_type", "resnet18"},
        {"quant_config", "ai8pc_wpc"},
        {"architecture", {{"image_size", 64}}}},
       1e-4},
      {"vit_tiny_fmnist", "vit-tiny-fmnist", 1e-3},
      {"vit_tiny_one_block",
       {{"model_type", "vit_tiny"},
        {"quant_config", "ai8pc_wpt"},
        {"architecture", {{"image_size", 64}, {"depth", 1}}}},
       1e-4},
      {"gpt", {{"model_type", "gpt"}, {"quant_config", "ai8pc_wpt"}}, 1e-4},
      {"gpt_swiglu_ternary_embeddings",
       {{"model_type", "gpt"},
        {"quant_config", "ai8pt_wpc"},
        {"architecture",
         {{"mlp", "swiglu"},
          {"ternary_embeddings", true},
          {"hidden_size", 128},
          {"num_layers", 2}}}},
       1e-4},
      {"resnet20_af32", {{"model_type", "resnet20"}, {"quant_config", "af32_wpc"}}, 1e-4},
  };
}

int run(const std::string& scratch) {
  torch::NoGradGuard no_grad;
  nlohmann::json manifest = nlohmann::json::array();
  int64_t seed = 0;
  for (const Case& c : cases()) {
    torch::manual_seed(++seed);
    std::shared_ptr<bitlab::BitModel> model =
        c.config.is_string()
            ? bitlab::AutoBitModel::from_pretrained(c.config.get<std::string>())
            : bitlab::AutoBitModel::from_config(bitlab::AutoBitConfig::from_json(c.config));
    model->eval();
    bitlab::deploy_bit_layers(*model);
    torch::Tensor input = model->example_input(/*batch=*/3);
    if (input.is_floating_point()) input = input * 2.0;  // past [-1, 1], as real images are
    const torch::Tensor expected = model->forward(input).contiguous();
    const std::string tensors = scratch + "/" + c.name + ".safetensors";
    bitlab::save_safetensors(tensors, {{"input", input}, {"expected", expected}});
    for (const bitlab::OnnxMode mode : {bitlab::OnnxMode::kFloat, bitlab::OnnxMode::kInt8}) {
      bitlab::OnnxExportOptions options;
      options.mode = mode;  // input_shape: example_input(1)'s, batch 1
      const std::string onnx = scratch + "/" + c.name + "-" + bitlab::to_string(mode) + ".onnx";
      bitlab::export_onnx(*model, onnx, options);
      manifest.push_back({{"name", c.name},
                          {"onnx", onnx},
                          {"tensors", tensors},
                          {"mode", bitlab::to_string(mode)},
                          {"input_name", input.is_floating_point() ? "input" : "ids"},
                          {"rtol", mode == bitlab::OnnxMode::kFloat ? c.float_rtol : 1e-3}});
    }
    std::printf("%s: exported, output %s\n", c.name.c_str(), c10::str(expected.sizes()).c_str());
  }
  std::ofstream(scratch + "/manifest.json") << manifest.dump(2) << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <scratch dir>\n", argv[0]);
    return 2;
  }
  try {
    return run(argv[1]);
  } catch (const bitlab::BitLabError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
