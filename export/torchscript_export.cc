#include "export/torchscript_export.h"

#include <cctype>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <c10/util/variant.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/pooling.h>
#include <torch/types.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "bitcore/errors.h"
#include "bitcore/io/atomic_file.h"
#include "bitcore/quant_config.h"
#include "bitlayers/bit_conv.h"
#include "bitlayers/bit_linear.h"
#include "bitzoo/vision/lenet5.h"
#include "bitzoo/vision/mlp.h"
#include "bitzoo/vision/mobilenet_v2.h"
#include "bitzoo/vision/resnet.h"
#include "export/ternary_weights.h"

namespace bitlab {
namespace {

constexpr const char* kCaller = "to_torchscript";

// Methods every exported module carries: the Bit layers' forward in the numerics contract's
// terms (docs/numerics.md). `_quantize_rows` computes r = 127 / max(absmax, eps) and the scale
// with tensor divisions, as the kernels do in float32 (a Python scalar divided by a tensor
// would become a reciprocal and a multiply, rounding twice).
constexpr const char* kBitLayerMethods = R"(
def _quantize_rows(self, rows: Tensor, eps: float) -> Tuple[Tensor, Tensor]:
    absmax = torch.clamp_min(torch.amax(torch.abs(rows), [1], True), eps)
    full = torch.full_like(absmax, 127.0)
    q = torch.clamp(torch.round(torch.mul(rows, torch.div(full, absmax))), -127.0, 127.0)
    return q, torch.div(absmax, full)

def _bit_linear(self, x: Tensor, w: Tensor, g: Tensor, b: Optional[Tensor], int8: bool,
                per_token: bool, eps: float) -> Tensor:
    k = w.size(1)
    rows = x.reshape([-1, k])
    if int8:
        if per_token:
            q, s = self._quantize_rows(rows, eps)
        else:
            q, s = self._quantize_rows(rows.reshape([1, -1]), eps)
            q = q.reshape([-1, k])
        y = torch.mul(torch.mul(torch.matmul(q, w.t()), s), g)
    else:
        y = torch.mul(torch.matmul(rows, w.t()), g)
    if b is not None:
        y = torch.add(y, b)
    shape = x.size()[:-1]
    shape.append(w.size(0))
    return y.reshape(shape)

def _bit_conv2d(self, x: Tensor, w: Tensor, g: Tensor, b: Optional[Tensor], stride: List[int],
                padding: List[int], dilation: List[int], groups: int, int8: bool,
                per_token: bool, eps: float) -> Tensor:
    if int8:
        n = x.size(0)
        if per_token:
            q, s = self._quantize_rows(x.reshape([n, -1]), eps)
            s = s.reshape([n, 1, 1, 1])
        else:
            q, s = self._quantize_rows(x.reshape([1, -1]), eps)
            s = s.reshape([1, 1, 1, 1])
        y = torch.conv2d(q.reshape(x.size()), w, None, stride, padding, dilation, groups)
        y = torch.mul(y, s)
    else:
        y = torch.conv2d(x, w, None, stride, padding, dilation, groups)
    y = torch.mul(y, g.reshape([1, -1, 1, 1]))
    if b is not None:
        y = torch.add(y, b.reshape([1, -1, 1, 1]))
    return y
)";

std::string int_list(const std::vector<int64_t>& values) {
  return absl::StrCat("[", absl::StrJoin(values, ", "), "]");
}

template <size_t D>
std::vector<int64_t> to_vector(const torch::ExpandingArray<D>& array) {
  return std::vector<int64_t>(array->begin(), array->end());
}

// A float as TorchScript source that parses back to the same float32.
std::string float_literal(double value) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.9g", value);
  std::string literal = text;
  if (literal.find_first_of(".eEn") == std::string::npos) literal += ".0";
  return literal;
}

std::string bool_literal(bool value) { return value ? "True" : "False"; }

// Builds one module: tensors registered under flat names, the forward's statements emitted in
// order, each layer's output a fresh local variable.
class ScriptBuilder {
 public:
  explicit ScriptBuilder(const std::string& class_name)
      : module_(c10::QualifiedName(absl::StrCat("__torch__.bitlab.", class_name))) {}

  // Emits the layers of `module` (at `path` in the model) applied to the variable `x`; returns
  // the variable holding the result.
  std::string layer(const torch::nn::Module& module, const std::string& path,
                    const std::string& x) {
    if (const auto* bit_linear = dynamic_cast<const BitLinearImpl*>(&module)) {
      return bit_linear_layer(*bit_linear, path, x);
    }
    if (const auto* bit_conv = dynamic_cast<const BitConv2dImpl*>(&module)) {
      return bit_conv_layer(*bit_conv, path, x);
    }
    if (const auto* linear = dynamic_cast<const torch::nn::LinearImpl*>(&module)) {
      return emit(absl::StrCat("torch.linear(", x, ", ", tensor(path, "weight", linear->weight),
                               ", ", optional_tensor(path, "bias", linear->bias), ")"));
    }
    if (const auto* conv = dynamic_cast<const torch::nn::Conv2dImpl*>(&module)) {
      return conv_layer(*conv, path, x);
    }
    if (const auto* norm = dynamic_cast<const torch::nn::BatchNorm2dImpl*>(&module)) {
      return batch_norm_layer(*norm, path, x);
    }
    if (dynamic_cast<const torch::nn::ReLUImpl*>(&module) != nullptr) {
      return emit(absl::StrCat("torch.relu(", x, ")"));
    }
    if (dynamic_cast<const torch::nn::ReLU6Impl*>(&module) != nullptr) {
      return emit(absl::StrCat("torch.hardtanh(", x, ", 0.0, 6.0)"));
    }
    if (dynamic_cast<const torch::nn::DropoutImpl*>(&module) != nullptr) return x;  // eval
    if (const auto* pool = dynamic_cast<const torch::nn::MaxPool2dImpl*>(&module)) {
      const auto& o = pool->options;
      return emit(absl::StrCat(
          "torch.max_pool2d(", x, ", ", int_list(to_vector(o.kernel_size())), ", ",
          int_list(to_vector(o.stride())), ", ", int_list(to_vector(o.padding())), ", ",
          int_list(to_vector(o.dilation())), ", ", bool_literal(o.ceil_mode()), ")"));
    }
    if (const auto* pool = dynamic_cast<const torch::nn::AdaptiveAvgPool2dImpl*>(&module)) {
      std::vector<int64_t> size;
      for (const c10::optional<int64_t>& side : *pool->options.output_size()) {
        if (!side.has_value()) unsupported(module, path, "an output size of None is not supported");
        size.push_back(*side);
      }
      return emit(absl::StrCat("torch.adaptive_avg_pool2d(", x, ", ", int_list(size), ")"));
    }
    if (const auto* sequential = dynamic_cast<const torch::nn::SequentialImpl*>(&module)) {
      std::string y = x;
      for (const auto& child : sequential->named_children()) {
        y = layer(*child.value(), join(path, child.key()), y);
      }
      return y;
    }
    if (const auto* block = dynamic_cast<const bitzoo::BasicBlockImpl*>(&module)) {
      std::string y = layer(*block->conv1.ptr(), join(path, "conv1"), x);
      y = relu(layer(*block->bn1, join(path, "bn1"), y));
      y = layer(*block->conv2.ptr(), join(path, "conv2"), y);
      y = layer(*block->bn2, join(path, "bn2"), y);
      return residual(y, block->downsample, path, x);
    }
    if (const auto* block = dynamic_cast<const bitzoo::BottleneckImpl*>(&module)) {
      std::string y = layer(*block->conv1.ptr(), join(path, "conv1"), x);
      y = relu(layer(*block->bn1, join(path, "bn1"), y));
      y = relu(layer(*block->bn2, join(path, "bn2"),
                     layer(*block->conv2.ptr(), join(path, "conv2"), y)));
      y = layer(*block->bn3, join(path, "bn3"), layer(*block->conv3.ptr(), join(path, "conv3"), y));
      return residual(y, block->downsample, path, x);
    }
    if (const auto* block = dynamic_cast<const bitzoo::InvertedResidualImpl*>(&module)) {
      const std::string y = layer(*block->conv, join(path, "conv"), x);
      return block->use_residual() ? emit(absl::StrCat("torch.add(", x, ", ", y, ")")) : y;
    }
    return model(module, path, x);
  }

  // Defines forward (returning `output`) beside the Bit layer methods; the module is complete.
  torch::jit::Module finish(const std::string& output) {
    std::string source = kBitLayerMethods;
    absl::StrAppend(&source, "\ndef forward(self, x: Tensor) -> Tensor:\n");
    for (const std::string& statement : statements_) {
      absl::StrAppend(&source, "    ", statement, "\n");
    }
    absl::StrAppend(&source, "    return ", output, "\n");
    module_.define(source);
    module_.eval();
    return module_;
  }

 private:
  // The zoo's architectures, whose forward is code rather than a Sequential.
  std::string model(const torch::nn::Module& module, const std::string& path,
                    const std::string& x) {
    if (const auto* mlp = dynamic_cast<const bitzoo::MlpImpl*>(&module)) {
      std::string y = emit(absl::StrCat("torch.flatten(", x, ", 1)"));
      for (size_t i = 0; i < mlp->hidden.size(); ++i) {
        y = relu(layer(*mlp->hidden[i].ptr(), join(path, absl::StrCat("fc", i + 1)), y));
      }
      return layer(*mlp->classifier.ptr(), join(path, "classifier"), y);
    }
    if (const auto* lenet = dynamic_cast<const bitzoo::LeNet5Impl*>(&module)) {
      std::string y = max_pool2(relu(layer(*lenet->conv1.ptr(), join(path, "conv1"), x)));
      y = max_pool2(relu(layer(*lenet->conv2.ptr(), join(path, "conv2"), y)));
      y = emit(absl::StrCat("torch.flatten(", y, ", 1)"));
      y = relu(layer(*lenet->fc1.ptr(), join(path, "fc1"), y));
      y = relu(layer(*lenet->fc2.ptr(), join(path, "fc2"), y));
      return layer(*lenet->fc3.ptr(), join(path, "fc3"), y);
    }
    if (const auto* resnet = dynamic_cast<const bitzoo::ResNetImpl*>(&module)) {
      std::string y = layer(*resnet->conv1.ptr(), join(path, "conv1"), x);
      y = relu(layer(*resnet->bn1, join(path, "bn1"), y));
      if (!resnet->maxpool.is_empty()) y = layer(*resnet->maxpool, join(path, "maxpool"), y);
      for (size_t s = 0; s < resnet->layers.size(); ++s) {
        y = layer(*resnet->layers[s], join(path, absl::StrCat("layer", s + 1)), y);
      }
      y = layer(*resnet->avgpool, join(path, "avgpool"), y);
      y = emit(absl::StrCat("torch.flatten(", y, ", 1)"));
      return layer(*resnet->fc.ptr(), join(path, "fc"), y);
    }
    if (const auto* mobilenet = dynamic_cast<const bitzoo::MobileNetV2Impl*>(&module)) {
      std::string y = layer(*mobilenet->features, join(path, "features"), x);
      y = emit(absl::StrCat("torch.flatten(torch.adaptive_avg_pool2d(", y, ", [1, 1]), 1)"));
      return layer(*mobilenet->classifier, join(path, "classifier"), y);
    }
    unsupported(module, path, "a module TorchScript export does not know");
  }

  std::string bit_linear_layer(const BitLinearImpl& layer, const std::string& path,
                               const std::string& x) {
    const TernaryWeight w = ternary_weight(layer, path, kCaller);
    return emit(absl::StrCat("self._bit_linear(", x, ", ", ternary_tensors(path, w), ", ",
                             activation_arguments(w.config), ")"));
  }

  std::string bit_conv_layer(const BitConv2dImpl& layer, const std::string& path,
                             const std::string& x) {
    const auto& o = layer.options;
    if (!c10::holds_alternative<torch::enumtype::kZeros>(o.padding_mode())) {
      unsupported(layer, path, "padding modes other than zeros are not supported");
    }
    const TernaryWeight w = ternary_weight(layer, path, kCaller);
    return emit(
        absl::StrCat("self._bit_conv2d(", x, ", ", ternary_tensors(path, w), ", ",
                     int_list(to_vector(o.stride())), ", ",
                     int_list(padding(o.padding(), o.kernel_size(), o.dilation(), layer, path)),
                     ", ", int_list(to_vector(o.dilation())), ", ", o.groups(), ", ",
                     activation_arguments(w.config), ")"));
  }

  std::string conv_layer(const torch::nn::Conv2dImpl& conv, const std::string& path,
                         const std::string& x) {
    const auto& o = conv.options;
    if (o.transposed()) unsupported(conv, path, "transposed convolutions are not supported");
    if (!c10::holds_alternative<torch::enumtype::kZeros>(o.padding_mode())) {
      unsupported(conv, path, "padding modes other than zeros are not supported");
    }
    return emit(absl::StrCat(
        "torch.conv2d(", x, ", ", tensor(path, "weight", conv.weight), ", ",
        optional_tensor(path, "bias", conv.bias), ", ", int_list(to_vector(o.stride())), ", ",
        int_list(padding(o.padding(), o.kernel_size(), o.dilation(), conv, path)), ", ",
        int_list(to_vector(o.dilation())), ", ", o.groups(), ")"));
  }

  std::string batch_norm_layer(const torch::nn::BatchNorm2dImpl& norm, const std::string& path,
                               const std::string& x) {
    if (!norm.running_mean.defined() || norm.running_mean.numel() == 0) {
      unsupported(norm, path, "batch norm without running statistics is not supported");
    }
    return emit(absl::StrCat("torch.batch_norm(", x, ", ",
                             optional_tensor(path, "weight", norm.weight), ", ",
                             optional_tensor(path, "bias", norm.bias), ", ",
                             tensor(path, "running_mean", norm.running_mean), ", ",
                             tensor(path, "running_var", norm.running_var), ", False, 0.0, ",
                             float_literal(norm.options.eps()), ", False)"));
  }

  // Explicit padding per spatial dimension; "same" where it pads both sides alike.
  template <typename Padding>
  std::vector<int64_t> padding(const Padding& padding, const torch::ExpandingArray<2>& kernel,
                               const torch::ExpandingArray<2>& dilation,
                               const torch::nn::Module& module, const std::string& path) {
    if (const auto* explicit_padding = c10::get_if<torch::ExpandingArray<2>>(&padding)) {
      return to_vector(*explicit_padding);
    }
    if (c10::holds_alternative<torch::enumtype::kValid>(padding)) return {0, 0};
    std::vector<int64_t> same;
    for (size_t d = 0; d < 2; ++d) {
      const int64_t total = (*dilation)[d] * ((*kernel)[d] - 1);
      if (total % 2 != 0) unsupported(module, path, "uneven \"same\" padding is not supported");
      same.push_back(total / 2);
    }
    return same;
  }

  // "self.<layer>_weight, self.<layer>_weight_scale, <bias or None>" of a Bit layer.
  std::string ternary_tensors(const std::string& path, const TernaryWeight& w) {
    return absl::StrCat(tensor(path, "weight", w.values.to(at::kFloat)), ", ",
                        tensor(path, "weight_scale", w.scale), ", ",
                        optional_tensor(path, "bias", w.bias));
  }

  static std::string activation_arguments(const BitQuantConfig& config) {
    return absl::StrCat(bool_literal(config.activation_dtype == ActivationDtype::kInt8), ", ",
                        bool_literal(config.activation_granularity == Granularity::kPerChannel),
                        ", ", float_literal(config.eps));
  }

  // Registers a copy of `value` as the parameter "<path>_<name>" (dots made underscores) and
  // returns the expression that reads it.
  std::string tensor(const std::string& path, const std::string& name, const at::Tensor& value) {
    const std::string flat = absl::StrReplaceAll(join(path, name), {{".", "_"}});
    if (module_.hasattr(flat)) {
      throw BitLabError(absl::StrCat(kCaller, ": two tensors would both be named '", flat,
                                     "' in the TorchScript module (the second at '", path, "')"));
    }
    module_.register_parameter(flat, value.detach().cpu().to(at::kFloat).contiguous().clone(),
                               /*is_buffer=*/false);
    return absl::StrCat("self.", flat);
  }

  std::string optional_tensor(const std::string& path, const std::string& name,
                              const at::Tensor& value) {
    if (!value.defined() || value.numel() == 0) return "None";
    return tensor(path, name, value);
  }

  std::string emit(const std::string& expression) {
    const std::string name = absl::StrCat("v", statements_.size() + 1);
    statements_.push_back(absl::StrCat(name, " = ", expression));
    return name;
  }

  std::string relu(const std::string& x) { return emit(absl::StrCat("torch.relu(", x, ")")); }

  std::string max_pool2(const std::string& x) {
    return emit(absl::StrCat("torch.max_pool2d(", x, ", [2, 2], [2, 2], [0, 0], [1, 1], False)"));
  }

  // ResNet's block ending: relu(y + shortcut), the shortcut a projection or x itself.
  std::string residual(const std::string& y, const torch::nn::Sequential& downsample,
                       const std::string& path, const std::string& x) {
    const std::string shortcut =
        downsample.is_empty() ? x : layer(*downsample, join(path, "downsample"), x);
    return relu(emit(absl::StrCat("torch.add(", y, ", ", shortcut, ")")));
  }

  static std::string join(const std::string& path, const std::string& name) {
    return path.empty() ? name : absl::StrCat(path, ".", name);
  }

  [[noreturn]] static void unsupported(const torch::nn::Module& module, const std::string& path,
                                       const std::string& problem) {
    throw BitLabError(absl::StrCat(kCaller, ": '", path.empty() ? "(the model)" : path, "' (",
                                   module.name(), "): ", problem,
                                   "; TorchScript export supports the zoo's mlp, lenet5, ResNets "
                                   "and mobilenet_v2"));
  }

  torch::jit::Module module_;
  std::vector<std::string> statements_;
};

}  // namespace

torch::jit::Module build_torchscript(const torch::nn::Module& model) {
  torch::NoGradGuard no_grad;
  std::string class_name = model.name();
  for (char& c : class_name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  ScriptBuilder builder(class_name);
  const std::string output = builder.layer(model, "", "x");
  return builder.finish(output);
}

void to_torchscript(const torch::nn::Module& model, const std::string& path) {
  const torch::jit::Module script = build_torchscript(model);
  std::ostringstream archive;
  script.save(archive);
  const std::string bytes = archive.str();
  write_file_atomically(path, {{bytes.data(), bytes.size()}});
}

}  // namespace bitlab
