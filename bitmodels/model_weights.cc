#include "bitmodels/model_weights.h"

#include <set>
#include <utility>
#include <vector>

#include <torch/csrc/autograd/grad_mode.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bitcore/errors.h"
#include "bitcore/io/safetensors.h"
#include "bitlayers/bit_layer.h"
#include "bitlayers/converter.h"

namespace bitlab {
namespace {

constexpr char kDeployedKey[] = "bitlab.deployed";

std::string join_path(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

std::string shape_string(const at::Tensor& t) {
  return absl::StrCat("[", absl::StrJoin(t.sizes(), ", "), "]");
}

}  // namespace

std::vector<std::pair<std::string, at::Tensor>> model_state_tensors(
    const torch::nn::Module& model) {
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& item : model.named_modules(/*name_prefix=*/"", /*include_self=*/true)) {
    const torch::nn::Module& module = *item.value();
    const auto* bit_layer = dynamic_cast<const BitLayer*>(&module);
    const bool packed_is_cache = bit_layer != nullptr && !bit_layer->is_deployed();
    for (const auto& p : module.named_parameters(/*recurse=*/false)) {
      tensors.emplace_back(join_path(item.key(), p.key()), p.value());
    }
    for (const auto& b : module.named_buffers(/*recurse=*/false)) {
      if (packed_is_cache && (b.key() == "qweight" || b.key() == "qweight_scale")) continue;
      tensors.emplace_back(join_path(item.key(), b.key()), b.value());
    }
  }
  return tensors;
}

bool is_model_deployed(const torch::nn::Module& model) {
  std::vector<std::string> deployed, trainable;
  for (const auto& item : model.named_modules("", /*include_self=*/true)) {
    if (const auto* layer = dynamic_cast<const BitLayer*>(item.value().get())) {
      (layer->is_deployed() ? deployed : trainable).push_back(item.key());
    }
  }
  if (!deployed.empty() && !trainable.empty()) {
    throw BitLabError(absl::StrCat("the model is only partly deployed (e.g. '", deployed.front(),
                                   "' is, '", trainable.front(),
                                   "' is not); call bitlab::deploy_bit_layers(model) first"));
  }
  return !deployed.empty();
}

void save_model_weights(const torch::nn::Module& model, const std::string& path,
                        std::map<std::string, std::string> metadata) {
  metadata[kDeployedKey] = is_model_deployed(model) ? "true" : "false";
  save_safetensors(path, model_state_tensors(model), metadata);
}

void load_model_weights(torch::nn::Module& model, const std::string& path) {
  const SafetensorsContents contents = load_safetensors(path);
  const auto it = contents.metadata.find(kDeployedKey);
  const bool saved_deployed = it != contents.metadata.end() && it->second == "true";
  if (is_model_deployed(model) && !saved_deployed) {
    throw BitLabError(absl::StrCat(path,
                                   ": holds trainable weights but the model is deployed; "
                                   "load them into a model that is not"));
  }
  // Deployed weights need the deployed layout (packed buffers, no float weights) to land in.
  if (saved_deployed) deploy_bit_layers(model);
  std::set<std::string> expected;
  torch::NoGradGuard no_grad;
  const std::vector<std::pair<std::string, at::Tensor>> tensors = model_state_tensors(model);
  for (const auto& [name, tensor] : tensors) {
    expected.insert(name);
    if (!contents.contains(name)) {
      throw BitLabError(absl::StrCat(path, ": missing tensor '", name, "' (the model expects ",
                                     c10::toString(tensor.scalar_type()), " ", shape_string(tensor),
                                     ")"));
    }
    const at::Tensor& saved = contents.at(name);
    if (saved.sizes() != tensor.sizes() || saved.scalar_type() != tensor.scalar_type()) {
      throw BitLabError(absl::StrCat(path, ": tensor '", name, "' is ",
                                     c10::toString(saved.scalar_type()), " ", shape_string(saved),
                                     " but the model expects ", c10::toString(tensor.scalar_type()),
                                     " ", shape_string(tensor)));
    }
  }
  for (const auto& [name, tensor] : contents.tensors) {
    if (expected.count(name) == 0) {
      throw BitLabError(absl::StrCat(path, ": unexpected tensor '", name,
                                     "' (not in the model; another architecture or config?)"));
    }
  }
  // Checked all first, so a bad file leaves the model as it was.
  for (const auto& [name, tensor] : tensors) tensor.copy_(contents.at(name));
}

}  // namespace bitlab
