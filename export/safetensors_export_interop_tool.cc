// The C++ half of safetensors_export_interop_test: exports a zoo model as float32 safetensors
// with a JSON list of what the file must hold, or imports a file (written by Python's
// safetensors package) into the model's float32 twin and checks its values; and the same for
// the packed weights of a deployed model (save_pretrained's model.safetensors).
//
//   safetensors_export_interop_tool export <model_type> <file.safetensors> <expected.json>
//   safetensors_export_interop_tool import <model_type> <file.safetensors>
//   safetensors_export_interop_tool export_packed <model_type> <dir>
//   safetensors_export_interop_tool import_packed <model_type> <dir/model.safetensors>
//
// expected.json: {name: {"dtype": "F32" | "I64", "shape": [...]}} for every parameter and
// buffer of the float32 twin, which is what torch's state_dict holds.
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>
#include <torch/types.h>
#include <torch/utils.h>

#include "bitcore/errors.h"
#include "bitmodels/auto_bit_model.h"
#include "export/quantize_for_deployment.h"
#include "export/safetensors_export.h"

namespace {

std::shared_ptr<bitlab::BitModel> build(const std::string& type, const std::string& precision) {
  return bitlab::AutoBitModel::from_config(bitlab::AutoBitConfig::from_json(
      {{"model_type", type}, {"quant_config", "af32_wpt"}, {"precision", precision}}));
}

std::string dtype_name(torch::ScalarType type) {
  switch (type) {
    case torch::kFloat:
      return "F32";
    case torch::kLong:
      return "I64";
    default:
      return c10::toString(type);
  }
}

// The values safetensors_export_interop_test.py writes: ((i % 17) - 8) * 0.125 for floats,
// (i % 17) - 8 for integers, i the flat index.
torch::Tensor python_values(const torch::Tensor& like) {
  torch::Tensor i = torch::arange(like.numel(), torch::kLong).remainder(17).sub(8);
  if (like.is_floating_point()) return (i.to(like.scalar_type()) * 0.125).view(like.sizes());
  return i.to(like.scalar_type()).view(like.sizes());
}

int export_model(const std::string& type, const std::string& path, const std::string& spec) {
  torch::manual_seed(0);
  std::shared_ptr<bitlab::BitModel> ternary = build(type, "ternary");
  bitlab::export_float_safetensors(*ternary, path);
  std::shared_ptr<bitlab::BitModel> twin = build(type, "float32");
  nlohmann::json expected = nlohmann::json::object();
  auto add = [&](const std::string& name, const torch::Tensor& t) {
    expected[name] = {{"dtype", dtype_name(t.scalar_type())}, {"shape", t.sizes().vec()}};
  };
  for (const auto& p : twin->named_parameters()) add(p.key(), p.value());
  for (const auto& b : twin->named_buffers()) add(b.key(), b.value());
  std::ofstream(spec) << expected.dump(2) << "\n";
  std::printf("exported %s: %zu tensors expected\n", type.c_str(), expected.size());
  return 0;
}

int import_model(const std::string& type, const std::string& path) {
  std::shared_ptr<bitlab::BitModel> twin = build(type, "float32");
  bitlab::import_float_safetensors(*twin, path);
  int failures = 0;
  int checked = 0;
  auto check = [&](const std::string& name, const torch::Tensor& t) {
    ++checked;
    if (!torch::equal(t, python_values(t))) {
      std::fprintf(stderr, "tensor %s differs from the values Python wrote\n", name.c_str());
      ++failures;
    }
  };
  for (const auto& p : twin->named_parameters()) check(p.key(), p.value());
  for (const auto& b : twin->named_buffers()) check(b.key(), b.value());
  std::printf("imported %s: checked %d tensors: %s\n", type.c_str(), checked,
              failures ? "FAIL" : "ok");
  return failures == 0 ? 0 : 1;
}

// Writes the deployed model as save_pretrained does (packed t2 weights in model.safetensors)
// and its float export beside it (float.safetensors), for Python to unpack and compare.
int export_packed(const std::string& type, const std::string& dir) {
  torch::manual_seed(0);
  std::shared_ptr<bitlab::BitModel> model = build(type, "ternary");
  bitlab::export_float_safetensors(*model, dir + "/float.safetensors");
  bitlab::quantize_for_deployment(*model);
  bitlab::AutoBitModel::save_pretrained(*model, dir);
  std::printf("saved deployed %s in %s\n", type.c_str(), dir.c_str());
  return 0;
}

// Loads a packed weights file (with config.json beside it) and requires the outputs of the
// model export_packed deployed.
int import_packed(const std::string& type, const std::string& path) {
  torch::manual_seed(0);
  std::shared_ptr<bitlab::BitModel> reference = build(type, "ternary");
  bitlab::quantize_for_deployment(*reference);
  reference->eval();
  std::shared_ptr<bitlab::BitModel> loaded = bitlab::AutoBitModel::from_pretrained(path);
  torch::NoGradGuard no_grad;
  const torch::Tensor input = reference->example_input(2);
  const bool same = torch::equal(loaded->forward(input), reference->forward(input));
  std::printf("imported packed %s: outputs %s\n", type.c_str(), same ? "identical" : "DIFFER");
  return same ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string command = argc > 1 ? argv[1] : "";
  const bool known = (argc == 5 && command == "export") ||
                     (argc == 4 && (command == "import" || command == "export_packed" ||
                                    command == "import_packed"));
  if (!known) {
    std::fprintf(stderr,
                 "usage: %s export <model_type> <file> <expected.json>\n"
                 "       %s import <model_type> <file>\n"
                 "       %s export_packed <model_type> <dir>\n"
                 "       %s import_packed <model_type> <model.safetensors>\n",
                 argv[0], argv[0], argv[0], argv[0]);
    return 2;
  }
  try {
    if (command == "export") return export_model(argv[2], argv[3], argv[4]);
    if (command == "import") return import_model(argv[2], argv[3]);
    if (command == "export_packed") return export_packed(argv[2], argv[3]);
    return import_packed(argv[2], argv[3]);
  } catch (const bitlab::BitLabError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
