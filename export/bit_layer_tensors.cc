#include "export/bit_layer_tensors.h"

#include <set>

#include <torch/types.h>
#include <torch/utils.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bitcore/errors.h"
#include "bitcore/packing.h"
#include "bitcore/tensor_checks.h"
#include "bitlayers/bit_conv.h"
#include "bitlayers/bit_embedding.h"
#include "bitlayers/bit_linear.h"

namespace bitlab {
namespace internal {
namespace {

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

}  // namespace

BitLayerTensors bit_layer_tensors(const torch::nn::Module& module, const std::string& path,
                                  const std::string& caller) {
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
    throw BitLabError(absl::StrCat(caller, ": Bit layer '", path, "' (", module.name(),
                                   ") is of a kind export does not know; expected BitLinear, "
                                   "BitConv1d/2d/3d or BitEmbedding"));
  }
  // Anything else the layer registered would be lost silently; refuse instead.
  static const std::set<std::string> kKnown = {"weight", "bias", "qweight", "qweight_scale"};
  for (const auto& item : module.named_parameters(/*recurse=*/false)) {
    if (kKnown.count(item.key()) == 0) {
      throw BitLabError(absl::StrCat(caller, ": Bit layer '", path, "' has a parameter '",
                                     item.key(), "' that export does not know"));
    }
  }
  for (const auto& item : module.named_buffers(/*recurse=*/false)) {
    if (kKnown.count(item.key()) == 0) {
      throw BitLabError(absl::StrCat(caller, ": Bit layer '", path, "' has a buffer '", item.key(),
                                     "' that export does not know"));
    }
  }
  return out;
}

QuantizedTensor ternary_weight(const BitLayerTensors& layer, const std::string& path,
                               const std::string& caller) {
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
      throw ShapeError(absl::StrCat(caller, ": Bit layer '", path, "' has a weight of shape ",
                                    layer.weight.defined() ? shape_string(layer.weight) : "none",
                                    ", expected [", absl::StrJoin(layer.weight_shape, ", "),
                                    "], and is not deployed"));
    }
    q = quantize_weight(layer.weight.detach().cpu().reshape({out_channels, k}), layer.config);
  }
  if (q.values.dim() != 2 || q.values.size(0) != out_channels || q.values.size(1) != k) {
    throw ShapeError(absl::StrCat(caller, ": Bit layer '", path, "' has ternary weights of shape ",
                                  shape_string(q.values), ", expected [", out_channels, ", ", k,
                                  "]"));
  }
  if (q.scale.dim() != 1 || (q.scale.size(0) != 1 && q.scale.size(0) != out_channels)) {
    throw ShapeError(absl::StrCat(caller, ": Bit layer '", path, "' has a weight scale of shape ",
                                  shape_string(q.scale), ", expected [1] or [", out_channels, "]"));
  }
  return q;
}

}  // namespace internal
}  // namespace bitlab
