#include "export/onnx_layers.h"

#include <c10/util/variant.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/types.h>
#include <torch/utils.h>

#include "absl/strings/str_cat.h"
#include "bitcore/errors.h"
#include "bitcore/quantization.h"
#include "bitlayers/bit_conv.h"
#include "bitlayers/bit_embedding.h"
#include "bitlayers/bit_linear.h"
#include "bitlayers/bit_norm.h"
#include "export/ternary_weights.h"

namespace bitlab {
namespace internal {
namespace {

constexpr const char* kCaller = "export_onnx";
constexpr float kQuantLimit = 127.0f;

using Attr = OnnxAttribute;

std::string join(const std::string& path, const std::string& name) {
  return path.empty() ? name : absl::StrCat(path, ".", name);
}

bool has_bias(const at::Tensor& bias) { return bias.defined() && bias.numel() > 0; }

// Conv attributes from torch's or BitConv's options (the same fields); zero padding only, as
// ONNX's Conv, ConvInteger and BitLab's exported layers agree on nothing else.
template <typename Options>
std::vector<OnnxAttribute> conv_attributes(const Options& options, const std::string& path) {
  if (!c10::holds_alternative<torch::enumtype::kZeros>(options.padding_mode())) {
    throw BitLabError(absl::StrCat(kCaller, ": convolution '", path,
                                   "' pads with a mode other than zeros, which ONNX's Conv "
                                   "cannot express; only padding_mode zeros exports"));
  }
  std::vector<int64_t> begin(2, 0);
  std::vector<int64_t> end(2, 0);
  for (size_t d = 0; d < 2; ++d) {
    if (const auto* explicit_padding = c10::get_if<torch::ExpandingArray<2>>(&options.padding())) {
      begin[d] = end[d] = (**explicit_padding)[d];
    } else if (c10::holds_alternative<torch::enumtype::kSame>(options.padding())) {
      // torch puts the odd element at the end, as BitConv does.
      const int64_t total = (*options.dilation())[d] * ((*options.kernel_size())[d] - 1);
      begin[d] = total / 2;
      end[d] = total - begin[d];
    }
  }
  return {Attr::integers("kernel_shape", c10::IntArrayRef(options.kernel_size()).vec()),
          Attr::integers("strides", c10::IntArrayRef(options.stride()).vec()),
          Attr::integers("dilations", c10::IntArrayRef(options.dilation()).vec()),
          Attr::integers("pads", {begin[0], begin[1], end[0], end[1]}),
          Attr::integer("group", options.groups())};
}

}  // namespace

void unsupported_layer(const std::string& path, const std::string& module_name,
                       const std::string& expected) {
  throw BitLabError(absl::StrCat(kCaller, ": layer '", path, "' is a ", module_name,
                                 ", which ONNX export does not support here; expected ", expected));
}

OnnxLayers::Quantized OnnxLayers::quantize(const std::string& x, const std::string& path,
                                           const BitQuantConfig& config,
                                           const std::vector<int64_t>& token_axes) {
  const std::string hint = join(path, "quantize");
  std::vector<OnnxAttribute> reduce = {Attr::integer("keepdims", 1)};
  if (config.activation_granularity == Granularity::kPerChannel) {
    reduce.push_back(Attr::integers("axes", token_axes));
  }
  const std::string absmax = graph_.add("ReduceMax", {graph_.add("Abs", {x}, hint)}, hint, reduce);
  const std::string clipped = graph_.add("Max", {absmax, graph_.scalar(config.eps)}, hint);
  const std::string r = graph_.add("Div", {graph_.scalar(kQuantLimit), clipped}, hint);
  Quantized out;
  out.scale = graph_.add("Div", {clipped, graph_.scalar(kQuantLimit)}, hint);
  const std::string rounded = graph_.add("Round", {graph_.add("Mul", {x, r}, hint)}, hint);
  out.q =
      graph_.add("Clip", {rounded, graph_.scalar(-kQuantLimit), graph_.scalar(kQuantLimit)}, hint);
  return out;
}

std::string OnnxLayers::linear(const torch::nn::Module& module, const std::string& path,
                               const std::string& x) {
  torch::NoGradGuard no_grad;
  if (const auto* fc = dynamic_cast<const torch::nn::LinearImpl*>(&module)) {
    const std::string w = graph_.initializer(join(path, "weight_t"), fc->weight.t());
    std::string y = graph_.add("MatMul", {x, w}, path);
    if (has_bias(fc->bias)) {
      y = graph_.add("Add", {y, graph_.initializer(join(path, "bias"), fc->bias)}, path);
    }
    return y;
  }
  if (dynamic_cast<const BitLinearImpl*>(&module) == nullptr) {
    unsupported_layer(path, module.name(), "torch::nn::Linear or bitlab::BitLinear");
  }
  const TernaryWeight w = ternary_weight(module, path, kCaller);
  const BitQuantConfig& config = w.config;
  const bool int8_activations = config.activation_dtype == ActivationDtype::kInt8;
  // q_w as float32 (kFloat) or int8 (kInt8), transposed for MatMul: [K, N].
  const std::string q_w =
      mode_ == OnnxMode::kFloat
          ? graph_.initializer(join(path, "qweight_t"), w.values.t().to(torch::kFloat))
          : graph_.initializer(join(path, "qweight_t"), w.values.t());
  const std::string g = graph_.initializer(join(path, "weight_scale"), w.scale);
  std::string y;
  if (int8_activations) {
    const Quantized q = quantize(x, path, config, {-1});
    if (mode_ == OnnxMode::kFloat) {
      y = graph_.add("MatMul", {q.q, q_w}, path);
    } else {
      const std::string q8 =
          graph_.add("Cast", {q.q}, path, {Attr::integer("to", onnx::TensorProto::INT8)});
      const std::string acc = graph_.add("MatMulInteger", {q8, q_w}, path);
      y = graph_.add("Cast", {acc}, path, {Attr::integer("to", onnx::TensorProto::FLOAT)});
    }
    y = graph_.add("Mul", {y, q.scale}, path);
  } else {
    const std::string w_float =
        mode_ == OnnxMode::kFloat
            ? q_w
            : graph_.add("Cast", {q_w}, path, {Attr::integer("to", onnx::TensorProto::FLOAT)});
    y = graph_.add("MatMul", {x, w_float}, path);
  }
  y = graph_.add("Mul", {y, g}, path);
  if (has_bias(w.bias)) {
    y = graph_.add("Add", {y, graph_.initializer(join(path, "bias"), w.bias)}, path);
  }
  return y;
}

std::string OnnxLayers::conv2d(const torch::nn::Module& module, const std::string& path,
                               const std::string& x) {
  torch::NoGradGuard no_grad;
  if (const auto* conv = dynamic_cast<const torch::nn::Conv2dImpl*>(&module)) {
    if (conv->options.transposed()) {
      unsupported_layer(path, "transposed Conv2d", "a torch::nn::Conv2d or bitlab::BitConv2d");
    }
    std::vector<std::string> inputs = {x, graph_.initializer(join(path, "weight"), conv->weight)};
    if (has_bias(conv->bias)) inputs.push_back(graph_.initializer(join(path, "bias"), conv->bias));
    return graph_.add("Conv", inputs, path, conv_attributes(conv->options, path));
  }
  const auto* bit_conv = dynamic_cast<const BitConvImpl<2>*>(&module);
  if (bit_conv == nullptr) {
    unsupported_layer(path, module.name(), "torch::nn::Conv2d or bitlab::BitConv2d");
  }
  const std::vector<OnnxAttribute> attributes = conv_attributes(bit_conv->options, path);
  const TernaryWeight w = ternary_weight(module, path, kCaller);
  const BitQuantConfig& config = w.config;
  const bool int8_activations = config.activation_dtype == ActivationDtype::kInt8;
  const int64_t out = w.values.size(0);
  // BitConv's per-token setting has one scale per sample (bit_conv.h).
  const std::vector<int64_t> sample_axes = {1, 2, 3};
  const at::Tensor bias = has_bias(w.bias) ? w.bias : at::Tensor();
  const at::Tensor& q_w = w.values;
  std::string y;
  if (int8_activations) {
    const Quantized q = quantize(x, path, config, sample_axes);
    if (mode_ == OnnxMode::kFloat) {
      y = graph_.add("Conv",
                     {q.q, graph_.initializer(join(path, "qweight"), q_w.to(torch::kFloat))}, path,
                     attributes);
    } else {
      const std::string shifted = graph_.add("Add", {q.q, graph_.scalar(128.0f)}, path);
      const std::string q_u8 =
          graph_.add("Cast", {shifted}, path, {Attr::integer("to", onnx::TensorProto::UINT8)});
      const std::string w_u8 = graph_.initializer(join(path, "qweight_u8"),
                                                  (q_w.to(torch::kShort) + 1).to(torch::kByte));
      const std::string acc =
          graph_.add("ConvInteger", {q_u8, w_u8, graph_.scalar_u8(128), graph_.scalar_u8(1)}, path,
                     attributes);
      y = graph_.add("Cast", {acc}, path, {Attr::integer("to", onnx::TensorProto::FLOAT)});
    }
    y = graph_.add("Mul", {y, q.scale}, path);
  } else {
    const std::string w_float =
        mode_ == OnnxMode::kFloat
            ? graph_.initializer(join(path, "qweight"), q_w.to(torch::kFloat))
            : graph_.add("Cast", {graph_.initializer(join(path, "qweight"), q_w)}, path,
                         {Attr::integer("to", onnx::TensorProto::FLOAT)});
    y = graph_.add("Conv", {x, w_float}, path, attributes);
  }
  const at::Tensor g = w.scale.numel() == 1 ? w.scale : w.scale.view({1, out, 1, 1});
  y = graph_.add("Mul", {y, graph_.initializer(join(path, "weight_scale"), g)}, path);
  if (bias.defined()) {
    y = graph_.add("Add", {y, graph_.initializer(join(path, "bias"), bias.view({1, out, 1, 1}))},
                   path);
  }
  return y;
}

std::string OnnxLayers::batch_norm2d(const torch::nn::Module& module, const std::string& path,
                                     const std::string& x) {
  const auto* bn = dynamic_cast<const torch::nn::BatchNorm2dImpl*>(&module);
  if (bn == nullptr) unsupported_layer(path, module.name(), "torch::nn::BatchNorm2d");
  if (!bn->options.track_running_stats()) {
    throw BitLabError(absl::StrCat(kCaller, ": BatchNorm2d '", path,
                                   "' keeps no running statistics, so its eval output depends "
                                   "on the batch; ONNX export needs track_running_stats"));
  }
  const int64_t n = bn->options.num_features();
  const at::Tensor weight = bn->options.affine() ? bn->weight : torch::ones({n});
  const at::Tensor bias = bn->options.affine() ? bn->bias : torch::zeros({n});
  return graph_.add("BatchNormalization",
                    {x, graph_.initializer(join(path, "weight"), weight),
                     graph_.initializer(join(path, "bias"), bias),
                     graph_.initializer(join(path, "running_mean"), bn->running_mean),
                     graph_.initializer(join(path, "running_var"), bn->running_var)},
                    path, {Attr::real("epsilon", static_cast<float>(bn->options.eps()))});
}

std::string OnnxLayers::layer_norm(const torch::nn::Module& module, const std::string& path,
                                   const std::string& x) {
  const auto* norm = dynamic_cast<const torch::nn::LayerNormImpl*>(&module);
  if (norm == nullptr) unsupported_layer(path, module.name(), "torch::nn::LayerNorm");
  const std::vector<int64_t>& shape = norm->options.normalized_shape();
  if (shape.size() != 1) {
    throw BitLabError(absl::StrCat(kCaller, ": LayerNorm '", path,
                                   "' normalizes more than the last dimension, which export "
                                   "does not support"));
  }
  const bool affine = norm->options.elementwise_affine();
  const at::Tensor weight = affine ? norm->weight : torch::ones({shape[0]});
  const at::Tensor bias = affine ? norm->bias : torch::zeros({shape[0]});
  return graph_.add(
      "LayerNormalization",
      {x, graph_.initializer(join(path, "weight"), weight),
       graph_.initializer(join(path, "bias"), bias)},
      path,
      {Attr::integer("axis", -1), Attr::real("epsilon", static_cast<float>(norm->options.eps()))});
}

std::string OnnxLayers::rms_norm(const torch::nn::Module& module, const std::string& path,
                                 const std::string& x) {
  const auto* norm = dynamic_cast<const BitRMSNormImpl*>(&module);
  if (norm == nullptr) unsupported_layer(path, module.name(), "bitlab::BitRMSNorm");
  // The order of BitRMSNorm::forward: x * rsqrt(mean(x * x) + eps) [* weight].
  const std::string square = graph_.add("Mul", {x, x}, path);
  const std::string mean = graph_.add("ReduceMean", {square}, path,
                                      {Attr::integers("axes", {-1}), Attr::integer("keepdims", 1)});
  const std::string shifted =
      graph_.add("Add", {mean, graph_.scalar(static_cast<float>(norm->options.eps()))}, path);
  const std::string inverse = graph_.add("Reciprocal", {graph_.add("Sqrt", {shifted}, path)}, path);
  std::string y = graph_.add("Mul", {x, inverse}, path);
  if (norm->weight.defined() && norm->weight.numel() > 0) {
    y = graph_.add("Mul", {y, graph_.initializer(join(path, "weight"), norm->weight)}, path);
  }
  return y;
}

std::string OnnxLayers::embedding(const torch::nn::Module& module, const std::string& path,
                                  const std::string& ids) {
  torch::NoGradGuard no_grad;
  if (const auto* table = dynamic_cast<const torch::nn::EmbeddingImpl*>(&module)) {
    if (table->options.max_norm().has_value()) {
      throw BitLabError(absl::StrCat(kCaller, ": Embedding '", path,
                                     "' has max_norm, which rewrites the table during lookups "
                                     "and has no ONNX equivalent"));
    }
    return graph_.add("Gather", {graph_.initializer(join(path, "weight"), table->weight), ids},
                      path);
  }
  const auto* bit_table = dynamic_cast<const BitEmbeddingImpl*>(&module);
  if (bit_table == nullptr) {
    unsupported_layer(path, module.name(), "torch::nn::Embedding or bitlab::BitEmbedding");
  }
  if (bit_table->options.max_norm().has_value()) {
    throw BitLabError(absl::StrCat(kCaller, ": BitEmbedding '", path,
                                   "' has max_norm, which has no ONNX equivalent"));
  }
  const TernaryWeight w = ternary_weight(module, path, kCaller);
  if (mode_ == OnnxMode::kFloat) {
    return graph_.add(
        "Gather",
        {graph_.initializer(join(path, "weight"), dequantize_weight(w.values, w.scale)), ids},
        path);
  }
  // As BitEmbedding's packed lookup: the rows' ternary values times their scale.
  const std::string rows = graph_.add(
      "Cast",
      {graph_.add("Gather", {graph_.initializer(join(path, "qweight"), w.values), ids}, path)},
      path, {Attr::integer("to", onnx::TensorProto::FLOAT)});
  std::string scale;
  if (w.scale.numel() == 1) {
    scale = graph_.initializer(join(path, "weight_scale"), w.scale);
  } else {
    scale = graph_.add("Gather",
                       {graph_.initializer(join(path, "weight_scale"), w.scale.unsqueeze(1)), ids},
                       path);
  }
  return graph_.add("Mul", {rows, scale}, path);
}

}  // namespace internal
}  // namespace bitlab
