#include "export/safetensors_export.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

#include <c10/util/irange.h>
#include <torch/nn/module.h>
#include <torch/types.h>
#include <torch/utils.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bitcore/errors.h"
#include "bitcore/io/safetensors.h"
#include "bitcore/quantization.h"
#include "bitcore/tensor_checks.h"
#include "bitlayers/bit_layer.h"
#include "export/bit_layer_tensors.h"

namespace bitlab {
namespace {

constexpr const char* kCaller = "export_float_safetensors";

std::string join_name(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : absl::StrCat(prefix, ".", name);
}

// The ternary weight the layer computes with, as float32 in the float layer's shape.
at::Tensor dequantized_weight(const internal::BitLayerTensors& layer, const std::string& path) {
  const QuantizedTensor q = internal::ternary_weight(layer, path, kCaller);
  return dequantize_weight(q.values, q.scale).reshape(layer.weight_shape).contiguous();
}

at::Tensor cpu_copy(const at::Tensor& t) { return t.detach().cpu().contiguous(); }

}  // namespace

std::vector<std::pair<std::string, at::Tensor>> float_state_dict(const torch::nn::Module& model) {
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& item : model.named_modules(/*name_prefix=*/"", /*include_self=*/true)) {
    const std::string& path = item.key();
    const torch::nn::Module& module = *item.value();
    if (dynamic_cast<const BitLayer*>(&module) != nullptr) {
      const internal::BitLayerTensors layer = internal::bit_layer_tensors(module, path, kCaller);
      tensors.emplace_back(join_name(path, "weight"), dequantized_weight(layer, path));
      if (layer.bias.defined() && layer.bias.numel() > 0) {
        tensors.emplace_back(join_name(path, "bias"), cpu_copy(layer.bias));
      }
      continue;
    }
    for (const auto& p : module.named_parameters(/*recurse=*/false)) {
      tensors.emplace_back(join_name(path, p.key()), cpu_copy(p.value()));
    }
    for (const auto& b : module.named_buffers(/*recurse=*/false)) {
      tensors.emplace_back(join_name(path, b.key()), cpu_copy(b.value()));
    }
  }
  return tensors;
}

void export_float_safetensors(const torch::nn::Module& model, const std::string& path) {
  save_safetensors(path, float_state_dict(model), {{"format", "pt"}, {"bitlab.export", "float"}});
}

void import_float_safetensors(torch::nn::Module& model, const std::string& path) {
  const SafetensorsContents contents = load_safetensors(path);
  std::map<std::string, at::Tensor> targets;
  for (const auto& p : model.named_parameters(/*recurse=*/true)) targets[p.key()] = p.value();
  for (const auto& b : model.named_buffers(/*recurse=*/true)) targets[b.key()] = b.value();

  const char* where = "import_float_safetensors";
  for (const auto& [name, tensor] : contents.tensors) {
    auto it = targets.find(name);
    if (it == targets.end()) {
      throw BitLabError(absl::StrCat(where, ": ", path, ": tensor '", name,
                                     "' is not a parameter or buffer of the model"));
    }
    const at::Tensor& target = it->second;
    if (target.sizes() != tensor.sizes()) {
      throw ShapeError(absl::StrCat(where, ": ", path, ": tensor '", name, "' has shape ",
                                    shape_string(tensor), ", the model's has shape ",
                                    shape_string(target)));
    }
    if (target.scalar_type() != tensor.scalar_type()) {
      throw ShapeError(absl::StrCat(where, ": ", path, ": tensor '", name, "' has dtype ",
                                    c10::toString(tensor.scalar_type()), ", the model's has dtype ",
                                    c10::toString(target.scalar_type())));
    }
  }
  for (const auto& [name, target] : targets) {
    if (!contents.contains(name)) {
      const bool packed = name == "qweight" || name == "qweight_scale" ||
                          absl::EndsWith(name, ".qweight") ||
                          absl::EndsWith(name, ".qweight_scale");
      throw BitLabError(absl::StrCat(
          where, ": ", path, ": the model's tensor '", name, "' (shape ", shape_string(target),
          ") is missing from the file",
          packed ? "; the model has packed ternary weights, so import into its float32 twin "
                   "(precision \"float32\") instead"
                 : ""));
    }
  }
  torch::NoGradGuard no_grad;
  for (const auto& [name, tensor] : contents.tensors) targets.at(name).copy_(tensor);
}

}  // namespace bitlab
