#include "export/safetensors_export.h"

#include <map>
#include <memory>
#include <set>
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
#include "bitcore/packing.h"
#include "bitcore/quantization.h"
#include "bitcore/tensor_checks.h"
#include "bitlayers/bit_conv.h"
#include "bitlayers/bit_embedding.h"
#include "bitlayers/bit_layer.h"
#include "bitlayers/bit_linear.h"

namespace bitlab {
namespace {

std::string join_name(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : absl::StrCat(prefix, ".", name);
}

// What export needs of one Bit layer, whatever its kind.
struct BitLayerTensors {
  std::vector<int64_t> weight_shape;  // the float layer's weight shape
  BitQuantConfig config;
  bool deployed = false;
  at::Tensor weight;   // latent float weight (trainable)
  at::Tensor qweight;  // canonical t2 [out, ceil(K/4)] (deployed)
  at::Tensor qweight_scale;
  at::Tensor bias;  // undefined without bias
};

template <size_t D>
bool fill_conv(const torch::nn::Module& module, BitLayerTensors& out) {
  const auto* conv = dynamic_cast<const BitConvImpl<D>*>(&module);
  if (conv == nullptr) return false;
  out.weight_shape = {conv->options.out_channels(),
                      conv->options.in_channels() / conv->options.groups()};
  for (int64_t k : *conv->options.kernel_size()) out.weight_shape.push_back(k);
  out.config = conv->options.quant_config();
  out.deployed = conv->is_deployed();
  out.weight = conv->weight;
  out.qweight = conv->qweight;
  out.qweight_scale = conv->qweight_scale;
  out.bias = conv->bias;
  return true;
}

BitLayerTensors bit_layer_tensors(const torch::nn::Module& module, const std::string& path) {
  BitLayerTensors out;
  if (const auto* linear = dynamic_cast<const BitLinearImpl*>(&module)) {
    out.weight_shape = {linear->options.out_features(), linear->options.in_features()};
    out.config = linear->options.quant_config();
    out.deployed = linear->is_deployed();
    out.weight = linear->weight;
    out.qweight = linear->qweight;
    out.qweight_scale = linear->qweight_scale;
    out.bias = linear->bias;
  } else if (const auto* embedding = dynamic_cast<const BitEmbeddingImpl*>(&module)) {
    out.weight_shape = {embedding->options.num_embeddings(), embedding->options.embedding_dim()};
    out.config = embedding->options.quant_config();
    out.deployed = embedding->is_deployed();
    out.weight = embedding->weight;
    out.qweight = embedding->qweight;
    out.qweight_scale = embedding->qweight_scale;
  } else if (!fill_conv<1>(module, out) && !fill_conv<2>(module, out) &&
             !fill_conv<3>(module, out)) {
    throw BitLabError(absl::StrCat("export_float_safetensors: Bit layer '", path, "' (",
                                   module.name(),
                                   ") is of a kind export does not know; expected BitLinear, "
                                   "BitConv1d/2d/3d or BitEmbedding"));
  }
  // Anything else the layer registered would be lost silently; refuse instead.
  static const std::set<std::string> kKnown = {"weight", "bias", "qweight", "qweight_scale"};
  for (const auto& item : module.named_parameters(/*recurse=*/false)) {
    if (kKnown.count(item.key()) == 0) {
      throw BitLabError(absl::StrCat("export_float_safetensors: Bit layer '", path,
                                     "' has a parameter '", item.key(),
                                     "' that export does not know"));
    }
  }
  for (const auto& item : module.named_buffers(/*recurse=*/false)) {
    if (kKnown.count(item.key()) == 0) {
      throw BitLabError(absl::StrCat("export_float_safetensors: Bit layer '", path,
                                     "' has a buffer '", item.key(),
                                     "' that export does not know"));
    }
  }
  return out;
}

// The ternary weight the layer computes with, as float32 in the float layer's shape.
at::Tensor dequantized_weight(const BitLayerTensors& layer, const std::string& path) {
  torch::NoGradGuard no_grad;
  const int64_t out_channels = layer.weight_shape[0];
  int64_t k = 1;
  for (size_t i = 1; i < layer.weight_shape.size(); ++i) k *= layer.weight_shape[i];
  QuantizedTensor q;
  if (layer.deployed) {
    // The packed weights and scales deploy() kept.
    q.values = unpack_t2(layer.qweight.cpu(), k);
    q.scale = layer.qweight_scale.cpu();
  } else {
    // As the layer packs itself (bitlinear::prepare_weights on the weight as [out, -1]).
    if (!layer.weight.defined() || layer.weight.numel() != out_channels * k) {
      throw ShapeError(
          absl::StrCat("export_float_safetensors: Bit layer '", path, "' has a weight of shape ",
                       layer.weight.defined() ? shape_string(layer.weight) : "none", ", expected [",
                       absl::StrJoin(layer.weight_shape, ", "), "], and is not deployed"));
    }
    q = quantize_weight(layer.weight.detach().cpu().reshape({out_channels, k}), layer.config);
  }
  if (q.values.dim() != 2 || q.values.size(0) != out_channels || q.values.size(1) != k) {
    throw ShapeError(absl::StrCat("export_float_safetensors: Bit layer '", path,
                                  "' has ternary weights of shape ", shape_string(q.values),
                                  ", expected [", out_channels, ", ", k, "]"));
  }
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
      const BitLayerTensors layer = bit_layer_tensors(module, path);
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
