#include "export/onnx_architectures.h"

#include <cmath>
#include <limits>
#include <memory>
#include <utility>

#include <c10/util/variant.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/pooling.h>
#include <torch/types.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bitcore/errors.h"
#include "bitlayers/bit_conv.h"
#include "bitlayers/bit_linear.h"
#include "bitzoo/gpt/gpt.h"
#include "bitzoo/transformer/encoder_block.h"
#include "bitzoo/transformer/vit.h"
#include "bitzoo/vision/lenet5.h"
#include "bitzoo/vision/mlp.h"
#include "bitzoo/vision/resnet.h"

namespace bitlab {
namespace internal {
namespace {

constexpr const char* kCaller = "export_onnx";
using Attr = OnnxAttribute;

std::string join(const std::string& path, const std::string& name) {
  return path.empty() ? name : absl::StrCat(path, ".", name);
}

std::string shape_text(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

// The registered child `name` of `parent` (at `path`).
const torch::nn::Module& child(const torch::nn::Module& parent, const std::string& path,
                               const std::string& name) {
  const auto children = parent.named_children();
  const std::shared_ptr<torch::nn::Module>* found = children.find(name);
  if (found == nullptr || *found == nullptr) {
    throw BitLabError(absl::StrCat(kCaller, ": module '", path.empty() ? "(root)" : path, "' (",
                                   parent.name(), ") has no child '", name,
                                   "', which its architecture's graph needs"));
  }
  return **found;
}

// {in_features, out_features} of a Linear or BitLinear; {0, 0} for any other module.
std::pair<int64_t, int64_t> linear_features(const torch::nn::Module& module) {
  if (const auto* fc = dynamic_cast<const torch::nn::LinearImpl*>(&module)) {
    return {fc->options.in_features(), fc->options.out_features()};
  }
  if (const auto* fc = dynamic_cast<const BitLinearImpl*>(&module)) {
    return {fc->options.in_features(), fc->options.out_features()};
  }
  return {0, 0};
}

int64_t out_features(const torch::nn::Module& module, const std::string& path) {
  const int64_t out = linear_features(module).second;
  if (out == 0) unsupported_layer(path, module.name(), "torch::nn::Linear or bitlab::BitLinear");
  return out;
}

[[noreturn]] void bad_input(const std::string& model, const std::vector<int64_t>& shape,
                            const std::string& expected) {
  throw ShapeError(absl::StrCat(kCaller, ": ", model, " takes inputs ", expected, ", got shape ",
                                shape_text(shape)));
}

void check_images(const std::string& model, const std::vector<int64_t>& shape, int64_t channels,
                  int64_t size) {
  const bool ok =
      shape.size() == 4 && shape[0] >= 1 && shape[1] == channels &&
      (size > 0 ? shape[2] == size && shape[3] == size : shape[2] >= 1 && shape[3] >= 1);
  if (!ok) {
    bad_input(model, shape,
              absl::StrCat("[B, ", channels, ", ", size > 0 ? absl::StrCat(size) : "H", ", ",
                           size > 0 ? absl::StrCat(size) : "W", "] float32"));
  }
}

// Graphs for one architecture each; `x` is the graph input, the result the logits.
class Builder {
 public:
  explicit Builder(OnnxLayers& layers) : layers_(layers), graph_(layers.graph()) {}

  std::string relu(const std::string& x, const std::string& hint) {
    return graph_.add("Relu", {x}, hint);
  }

  std::string max_pool(const std::string& x, const std::string& hint, int64_t kernel,
                       int64_t stride, int64_t padding) {
    return graph_.add("MaxPool", {x}, hint,
                      {Attr::integers("kernel_shape", {kernel, kernel}),
                       Attr::integers("strides", {stride, stride}),
                       Attr::integers("pads", {padding, padding, padding, padding})});
  }

  std::string mlp(const bitzoo::MlpImpl& model, const std::string& input) {
    std::string x = graph_.add("Flatten", {input}, "flatten", {Attr::integer("axis", 1)});
    for (size_t i = 0; i < model.hidden.size(); ++i) {
      const std::string name = absl::StrCat("fc", i + 1);
      x = relu(layers_.linear(child(model, "", name), name, x), name);
    }
    return layers_.linear(child(model, "", "classifier"), "classifier", x);
  }

  std::string lenet5(const bitzoo::LeNet5Impl& model, const std::string& input) {
    std::string x = relu(layers_.conv2d(child(model, "", "conv1"), "conv1", input), "conv1");
    x = max_pool(x, "pool1", 2, 2, 0);
    x = relu(layers_.conv2d(child(model, "", "conv2"), "conv2", x), "conv2");
    x = max_pool(x, "pool2", 2, 2, 0);
    x = graph_.add("Flatten", {x}, "flatten", {Attr::integer("axis", 1)});
    x = relu(layers_.linear(child(model, "", "fc1"), "fc1", x), "fc1");
    x = relu(layers_.linear(child(model, "", "fc2"), "fc2", x), "fc2");
    return layers_.linear(child(model, "", "fc3"), "fc3", x);
  }

  // A conv -> batch norm pair of a ResNet, named conv<i> / bn<i> under `path`.
  std::string conv_bn(const torch::nn::Module& block, const std::string& path,
                      const std::string& conv, const std::string& bn, const std::string& x) {
    const std::string y = layers_.conv2d(child(block, path, conv), join(path, conv), x);
    return layers_.batch_norm2d(child(block, path, bn), join(path, bn), y);
  }

  std::string resnet_block(const torch::nn::Module& block, const std::string& path,
                           const std::string& x) {
    const bool bottleneck = block.named_children().contains("conv3");
    std::string out = relu(conv_bn(block, path, "conv1", "bn1", x), path);
    out = conv_bn(block, path, "conv2", "bn2", out);
    if (bottleneck) out = conv_bn(block, path, "conv3", "bn3", relu(out, path));
    std::string shortcut = x;
    if (block.named_children().contains("downsample")) {
      const std::string down = join(path, "downsample");
      shortcut = conv_bn(child(block, path, "downsample"), down, "0", "1", x);
    }
    return relu(graph_.add("Add", {out, shortcut}, path), path);
  }

  std::string resnet(const bitzoo::ResNetImpl& model, const std::string& input) {
    std::string x = relu(conv_bn(model, "", "conv1", "bn1", input), "stem");
    if (!model.maxpool.is_empty()) {
      const auto& options = model.maxpool->options;
      for (size_t d = 0; d < 2; ++d) {
        if ((*options.dilation())[d] != 1 || options.ceil_mode()) {
          throw BitLabError(absl::StrCat(kCaller, ": 'maxpool' has dilation or ceil_mode, which ",
                                         "export does not support"));
        }
      }
      x = graph_.add("MaxPool", {x}, "maxpool",
                     {Attr::integers("kernel_shape", c10::IntArrayRef(options.kernel_size()).vec()),
                      Attr::integers("strides", c10::IntArrayRef(options.stride()).vec()),
                      Attr::integers("pads", {(*options.padding())[0], (*options.padding())[1],
                                              (*options.padding())[0], (*options.padding())[1]})});
    }
    for (size_t s = 0; s < model.layers.size(); ++s) {
      const std::string stage = absl::StrCat("layer", s + 1);
      const torch::nn::Module& blocks = child(model, "", stage);
      for (size_t b = 0; b < model.layers[s]->size(); ++b) {
        const std::string name = absl::StrCat(b);
        x = resnet_block(child(blocks, stage, name), join(stage, name), x);
      }
    }
    x = graph_.add("GlobalAveragePool", {x}, "avgpool");
    x = graph_.add("Flatten", {x}, "flatten", {Attr::integer("axis", 1)});
    return layers_.linear(child(model, "", "fc"), "fc", x);
  }

  // [B, T, heads * head_dim] -> [B, heads, T, head_dim], or [B, heads, head_dim, T] (keys,
  // transposed for the product with the queries).
  std::string split_heads(const std::string& x, const std::string& hint, int64_t heads,
                          int64_t head_dim, bool transposed) {
    const std::string shape = graph_.int64s(join(hint, "heads_shape"), {0, 0, heads, head_dim});
    const std::string split = graph_.add("Reshape", {x, shape}, hint);
    return graph_.add("Transpose", {split}, hint,
                      {Attr::integers("perm", transposed ? std::vector<int64_t>{0, 2, 3, 1}
                                                         : std::vector<int64_t>{0, 2, 1, 3})});
  }

  // softmax(q k^T / sqrt(head_dim) [masked]) v, heads merged back: [B, T, heads * head_dim].
  std::string attention(const std::string& q, const std::string& k, const std::string& v,
                        const std::string& path, int64_t heads, int64_t head_dim,
                        const std::string& future_mask) {
    std::string scores = graph_.add("MatMul", {q, k}, path);
    scores = graph_.add(
        "Div", {scores, graph_.scalar(static_cast<float>(std::sqrt(double(head_dim))))}, path);
    if (!future_mask.empty()) {
      scores = graph_.add(
          "Where", {future_mask, graph_.scalar(-std::numeric_limits<float>::infinity()), scores},
          path);
    }
    const std::string probs = graph_.add("Softmax", {scores}, path, {Attr::integer("axis", -1)});
    const std::string attended = graph_.add("MatMul", {probs, v}, path);
    const std::string merged =
        graph_.add("Transpose", {attended}, path, {Attr::integers("perm", {0, 2, 1, 3})});
    return graph_.add("Reshape",
                      {merged, graph_.int64s(join(path, "merged_shape"), {0, 0, heads * head_dim})},
                      path);
  }

  // GELU, exact (erf), in the order of torch's CPU kernel: x * 0.5 * (1 + erf(x / sqrt(2))).
  std::string gelu(const std::string& x, const std::string& hint) {
    const std::string erf = graph_.add(
        "Erf", {graph_.add("Mul", {x, graph_.scalar(static_cast<float>(M_SQRT1_2))}, hint)}, hint);
    const std::string half = graph_.add("Mul", {x, graph_.scalar(0.5f)}, hint);
    return graph_.add("Mul", {half, graph_.add("Add", {erf, graph_.scalar(1.0f)}, hint)}, hint);
  }

  std::string vit(const bitzoo::VisionTransformer& model, const std::string& input) {
    const int64_t D = model.options.embed_dim();
    const torch::nn::Module& patch_embed = child(model, "", "patch_embed");
    std::string x =
        layers_.conv2d(child(patch_embed, "patch_embed", "proj"), "patch_embed.proj", input);
    // [B, D, H / p, W / p] -> [B, patches, D].
    x = graph_.add("Reshape", {x, graph_.int64s("patch_shape", {0, D, -1})}, "patch_embed");
    x = graph_.add("Transpose", {x}, "patch_embed", {Attr::integers("perm", {0, 2, 1})});
    // cls_token expanded to [B, 1, D] (B symbolic: taken from the patches' shape).
    const std::string batch =
        graph_.add("Slice",
                   {graph_.add("Shape", {x}, "cls"), graph_.int64s("cls_begin", {0}),
                    graph_.int64s("cls_end", {1})},
                   "cls");
    const std::string cls_shape = graph_.add("Concat", {batch, graph_.int64s("cls_rest", {1, D})},
                                             "cls", {Attr::integer("axis", 0)});
    const std::string cls =
        graph_.add("Expand", {graph_.initializer("cls_token", model.cls_token), cls_shape}, "cls");
    x = graph_.add("Concat", {cls, x}, "tokens", {Attr::integer("axis", 1)});
    x = graph_.add("Add", {x, graph_.initializer("pos_embed", model.pos_embed)}, "tokens");
    const torch::nn::Module& blocks = child(model, "", "blocks");
    for (size_t i = 0; i < model.blocks->size(); ++i) {
      const std::string path = absl::StrCat("blocks.", i);
      x = encoder_block(child(blocks, "blocks", absl::StrCat(i)), path, x);
    }
    x = layers_.layer_norm(child(model, "", "norm"), "norm", x);
    x = graph_.add("Gather", {x, graph_.initializer("cls_index", torch::zeros({}, torch::kLong))},
                   "cls_select", {Attr::integer("axis", 1)});
    return layers_.linear(child(model, "", "head"), "head", x);
  }

  std::string encoder_block(const torch::nn::Module& block, const std::string& path,
                            const std::string& x) {
    const std::string attn_path = join(path, "attn");
    const auto* attn =
        dynamic_cast<const bitzoo::EncoderSelfAttentionImpl*>(&child(block, path, "attn"));
    if (attn == nullptr) unsupported_layer(attn_path, "module", "an EncoderSelfAttention");
    const std::string h = layers_.layer_norm(child(block, path, "norm1"), join(path, "norm1"), x);
    const int64_t heads = attn->num_heads;
    const int64_t dim = out_features(child(*attn, attn_path, "q"), join(attn_path, "q"));
    const int64_t head_dim = dim / heads;
    const auto project = [&](const std::string& name) {
      return layers_.linear(child(*attn, attn_path, name), join(attn_path, name), h);
    };
    const std::string q = split_heads(project("q"), join(attn_path, "q"), heads, head_dim, false);
    const std::string k = split_heads(project("k"), join(attn_path, "k"), heads, head_dim, true);
    const std::string v = split_heads(project("v"), join(attn_path, "v"), heads, head_dim, false);
    const std::string attended = attention(q, k, v, attn_path, heads, head_dim, "");
    const std::string y = graph_.add(
        "Add",
        {x, layers_.linear(child(*attn, attn_path, "proj"), join(attn_path, "proj"), attended)},
        path);
    const std::string mlp_path = join(path, "mlp");
    const torch::nn::Module& mlp = child(block, path, "mlp");
    std::string m = layers_.layer_norm(child(block, path, "norm2"), join(path, "norm2"), y);
    m = layers_.linear(child(mlp, mlp_path, "fc1"), join(mlp_path, "fc1"), m);
    m = layers_.linear(child(mlp, mlp_path, "fc2"), join(mlp_path, "fc2"), gelu(m, mlp_path));
    return graph_.add("Add", {y, m}, path);
  }

  std::string gpt(const bitzoo::Gpt& model, const std::string& ids, int64_t length) {
    const int64_t C = model.options.hidden_size();
    const int64_t heads = model.options.num_heads();
    const int64_t head_dim = C / heads;
    const bool swiglu = model.options.mlp() == "swiglu";
    const std::string positions =
        graph_.initializer("positions", torch::arange(length, torch::kLong));
    std::string x = graph_.add(
        "Add",
        {layers_.embedding(child(model, "", "tok_embeddings"), "tok_embeddings", ids),
         layers_.embedding(child(model, "", "pos_embeddings"), "pos_embeddings", positions)},
        "embeddings");
    // Query i sees keys 0..i: true above the diagonal is masked.
    const std::string future =
        graph_.initializer("causal_mask", torch::ones({length, length}, torch::kBool).triu(1));
    const torch::nn::Module& blocks = child(model, "", "blocks");
    for (size_t i = 0; i < model.blocks->size(); ++i) {
      const std::string path = absl::StrCat("blocks.", i);
      const torch::nn::Module& block = child(blocks, "blocks", absl::StrCat(i));
      const std::string attn_path = join(path, "attn");
      const torch::nn::Module& attn = child(block, path, "attn");
      const std::string h =
          layers_.rms_norm(child(block, path, "attn_norm"), join(path, "attn_norm"), x);
      const auto project = [&](const std::string& name, bool transposed) {
        const std::string p = join(attn_path, name);
        return split_heads(layers_.linear(child(attn, attn_path, name), p, h), p, heads, head_dim,
                           transposed);
      };
      std::string a = attention(project("q", false), project("k", true), project("v", false),
                                attn_path, heads, head_dim, future);
      a = layers_.rms_norm(child(attn, attn_path, "sub_norm"), join(attn_path, "sub_norm"), a);
      a = layers_.linear(child(attn, attn_path, "o"), join(attn_path, "o"), a);
      x = graph_.add("Add", {x, a}, path);

      const std::string mlp_path = join(path, "mlp");
      const torch::nn::Module& mlp = child(block, path, "mlp");
      const std::string m =
          layers_.rms_norm(child(block, path, "mlp_norm"), join(path, "mlp_norm"), x);
      const std::string up = layers_.linear(child(mlp, mlp_path, "up"), join(mlp_path, "up"), m);
      std::string inner;
      if (swiglu) {
        const std::string gate =
            layers_.linear(child(mlp, mlp_path, "gate"), join(mlp_path, "gate"), m);
        const std::string silu =
            graph_.add("Mul", {gate, graph_.add("Sigmoid", {gate}, mlp_path)}, mlp_path);
        inner = graph_.add("Mul", {silu, up}, mlp_path);
      } else {
        const std::string r = relu(up, mlp_path);
        inner = graph_.add("Mul", {r, r}, mlp_path);
      }
      inner = layers_.rms_norm(child(mlp, mlp_path, "sub_norm"), join(mlp_path, "sub_norm"), inner);
      x = graph_.add(
          "Add", {x, layers_.linear(child(mlp, mlp_path, "down"), join(mlp_path, "down"), inner)},
          path);
    }
    x = layers_.rms_norm(child(model, "", "norm"), "norm", x);
    return layers_.linear(child(model, "", "lm_head"), "lm_head", x);
  }

 private:
  OnnxLayers& layers_;
  OnnxGraph& graph_;
};

// Output size of a 2-d convolution of `module` (torch's or BitConv's options) on `shape`.
template <typename Options>
std::vector<int64_t> conv_output(const Options& options, const std::vector<int64_t>& shape,
                                 const std::string& name) {
  if (shape.size() != 4 || shape[0] < 1 || shape[1] != options.in_channels()) {
    bad_input(name, shape, absl::StrCat("[B, ", options.in_channels(), ", H, W]"));
  }
  std::vector<int64_t> out = {-1, options.out_channels()};
  for (size_t d = 0; d < 2; ++d) {
    int64_t pad = 0;
    if (const auto* p = c10::get_if<torch::ExpandingArray<2>>(&options.padding())) {
      pad = 2 * (**p)[d];
    } else if (c10::holds_alternative<torch::enumtype::kSame>(options.padding())) {
      pad = (*options.dilation())[d] * ((*options.kernel_size())[d] - 1);
    }
    const int64_t span = (*options.dilation())[d] * ((*options.kernel_size())[d] - 1) + 1;
    if (shape[2 + d] + pad < span) {
      bad_input(name, shape, absl::StrCat("with spatial sizes of at least ", span - pad));
    }
    out.push_back((shape[2 + d] + pad - span) / (*options.stride())[d] + 1);
  }
  return out;
}

}  // namespace

ArchitectureGraph architecture_graph(const torch::nn::Module& model,
                                     const std::vector<int64_t>& shape, OnnxLayers& layers) {
  OnnxGraph& graph = layers.graph();
  Builder builder(layers);
  std::vector<int64_t> input_shape = shape;
  if (!input_shape.empty()) input_shape[0] = -1;  // symbolic batch
  ArchitectureGraph result;
  std::string logits;
  if (const auto* gpt = dynamic_cast<const bitzoo::Gpt*>(&model)) {
    const int64_t context = gpt->options.context_length();
    if (shape.size() != 2 || shape[0] < 1 || shape[1] < 1 || shape[1] > context) {
      bad_input("gpt", shape, absl::StrCat("[B, T] int64 token ids, 1 <= T <= ", context));
    }
    graph.add_input("ids", onnx::TensorProto::INT64, input_shape);
    result.architecture = "gpt";
    result.output_shape = {-1, shape[1], gpt->options.vocab_size()};
    logits = builder.gpt(*gpt, "ids", shape[1]);
  } else {
    graph.add_input("input", onnx::TensorProto::FLOAT, input_shape);
    if (const auto* mlp = dynamic_cast<const bitzoo::MlpImpl*>(&model)) {
      check_images("mlp", shape, mlp->in_channels(), mlp->image_size());
      result.architecture = "mlp";
      result.output_shape = {-1, out_features(child(model, "", "classifier"), "classifier")};
      logits = builder.mlp(*mlp, "input");
    } else if (const auto* lenet = dynamic_cast<const bitzoo::LeNet5Impl*>(&model)) {
      check_images("lenet5", shape, lenet->in_channels(), lenet->image_size());
      result.architecture = "lenet5";
      result.output_shape = {-1, out_features(child(model, "", "fc3"), "fc3")};
      logits = builder.lenet5(*lenet, "input");
    } else if (const auto* resnet = dynamic_cast<const bitzoo::ResNetImpl*>(&model)) {
      check_images(resnet->config.model_type, shape, resnet->in_channels(), /*size=*/0);
      result.architecture = "resnet";
      result.output_shape = {-1, out_features(child(model, "", "fc"), "fc")};
      logits = builder.resnet(*resnet, "input");
    } else if (const auto* vit = dynamic_cast<const bitzoo::VisionTransformer*>(&model)) {
      check_images(vit->config.model_type, shape, vit->options.in_channels(),
                   vit->options.image_size());
      result.architecture = "vit";
      result.output_shape = {-1, out_features(child(model, "", "head"), "head")};
      logits = builder.vit(*vit, "input");
    } else if (linear_features(model).first > 0) {
      const int64_t in = linear_features(model).first;
      if (shape.size() < 2 || shape[0] < 1 || shape.back() != in) {
        bad_input(model.name(), shape, absl::StrCat("[B, ..., ", in, "]"));
      }
      result.architecture = "linear";
      result.output_shape = input_shape;
      result.output_shape.back() = out_features(model, "(root)");
      logits = layers.linear(model, "", "input");
    } else if (const auto* conv = dynamic_cast<const torch::nn::Conv2dImpl*>(&model)) {
      result.architecture = "conv2d";
      result.output_shape = conv_output(conv->options, shape, model.name());
      logits = layers.conv2d(model, "", "input");
    } else if (const auto* bit_conv = dynamic_cast<const BitConvImpl<2>*>(&model)) {
      result.architecture = "conv2d";
      result.output_shape = conv_output(bit_conv->options, shape, model.name());
      logits = layers.conv2d(model, "", "input");
    } else {
      throw BitLabError(absl::StrCat(
          kCaller, ": ", model.name(),
          " is not a model ONNX export knows; it exports the zoo's mlp, lenet5, resnet*, "
          "vit_* and gpt, or a single Linear, BitLinear, Conv2d or BitConv2d layer"));
    }
  }
  graph.add("Identity", {logits}, "output", {}, "logits");
  graph.add_output("logits", onnx::TensorProto::FLOAT, result.output_shape);
  return result;
}

}  // namespace internal
}  // namespace bitlab
