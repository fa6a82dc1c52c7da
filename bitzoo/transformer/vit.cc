#include "bitzoo/transformer/vit.h"

#include <memory>

#include <torch/nn/init.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include "absl/strings/str_cat.h"
#include "bitcore/errors.h"
#include "bitlayers/deployed_skeleton.h"
#include "bitmodels/config_fields.h"
#include "bitmodels/model_registry.h"
#include "bitzoo/transformer/encoder_block.h"

namespace bitlab {
namespace bitzoo {
namespace {

// timm's ViT LayerNorm epsilon.
constexpr double kNormEps = 1e-6;

}  // namespace

int64_t ViTOptions::mlp_hidden() const {
  return static_cast<int64_t>(static_cast<double>(embed_dim()) * mlp_ratio());
}

int64_t ViTOptions::num_patches() const {
  const int64_t side = image_size() / patch_size();
  return side * side;
}

void ViTOptions::validate(const std::string& context) const {
  if (image_size() % patch_size() != 0) {
    throw ConfigError(absl::StrCat(context, ": field 'image_size' must be a multiple of field ",
                                   "'patch_size', got image_size = ", image_size(),
                                   ", patch_size = ", patch_size()));
  }
  if (embed_dim() % num_heads() != 0) {
    throw ConfigError(absl::StrCat(context, ": field 'embed_dim' must be a multiple of field ",
                                   "'num_heads', got embed_dim = ", embed_dim(),
                                   ", num_heads = ", num_heads()));
  }
  if (mlp_hidden() < 1) {
    throw ConfigError(absl::StrCat(context, ": field 'mlp_ratio' must give the MLP at least one ",
                                   "hidden unit (embed_dim * mlp_ratio >= 1), got mlp_ratio = ",
                                   mlp_ratio(), " with embed_dim = ", embed_dim()));
  }
}

PatchEmbedImpl::PatchEmbedImpl(int64_t in_channels, int64_t embed_dim, int64_t patch_size) {
  proj = torch::nn::AnyModule(register_module(
      "proj",
      make_conv2d(
          torch::nn::Conv2dOptions(in_channels, embed_dim, patch_size).stride(patch_size))));
}

torch::Tensor PatchEmbedImpl::forward(const torch::Tensor& images) {
  // [B, D, H / p, W / p] -> [B, patches, D], patches in row-major order.
  return proj.forward(images).flatten(2).transpose(1, 2);
}

void PatchEmbedImpl::replace_child(const std::string& name,
                                   const torch::nn::AnyModule& replacement) {
  if (name != "proj") throw_no_swappable_child("PatchEmbed", name);
  proj = replacement;
}

VisionTransformer::VisionTransformer(const ViTOptions& options_) : options(options_) {
  options.validate();
  const int64_t D = options.embed_dim();
  patch_embed =
      register_module("patch_embed", PatchEmbed(options.in_channels(), D, options.patch_size()));
  cls_token = register_parameter("cls_token", torch::zeros({1, 1, D}));
  pos_embed = register_parameter("pos_embed", torch::zeros({1, 1 + options.num_patches(), D}));
  blocks = register_module(
      "blocks",
      make_encoder_blocks(
          EncoderBlockOptions(D, options.num_heads(), options.mlp_hidden()).norm_eps(kNormEps),
          options.depth()));
  norm =
      register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({D}).eps(kNormEps)));
  head = torch::nn::AnyModule(
      register_module("head", make_linear(torch::nn::LinearOptions(D, options.num_classes()))));

  init_transformer_weights(*this);
  if (building_deployed_skeleton()) return;  // its tensors are filled from a file next
  // timm: pos_embed ~ trunc_normal(0.02) and cls_token ~ N(0, 1e-6).
  torch::NoGradGuard no_grad;
  torch::nn::init::normal_(pos_embed, 0.0, 0.02);
  torch::nn::init::normal_(cls_token, 0.0, 1e-6);
}

torch::Tensor VisionTransformer::forward(const torch::Tensor& images) {
  const int64_t size = options.image_size();
  if (!images.defined() || images.dim() != 4 || images.size(1) != options.in_channels() ||
      images.size(2) != size || images.size(3) != size || !images.is_floating_point()) {
    throw ShapeError(absl::StrCat("VisionTransformer: expected images [B, ", options.in_channels(),
                                  ", ", size, ", ", size, "] floating point, got ",
                                  describe_tensor(images)));
  }
  torch::Tensor x = patch_embed(images);
  x = torch::cat({cls_token.expand({x.size(0), 1, x.size(2)}), x}, 1) + pos_embed;
  x = norm(run_encoder_blocks(blocks, x));
  return head.forward(x.select(1, 0));
}

torch::Tensor VisionTransformer::example_input(int64_t batch) const {
  return torch::randn({batch, options.in_channels(), options.image_size(), options.image_size()});
}

std::vector<ConversionRule> VisionTransformer::default_rules() const {
  ConversionRule keep_ends;
  keep_ends.pattern = "^patch_embed\\.proj$|^head$";
  keep_ends.keep_float = true;
  keep_ends.name = "ViT patch embedding and classifier head";
  return {keep_ends};
}

void VisionTransformer::replace_child(const std::string& name,
                                      const torch::nn::AnyModule& replacement) {
  if (name != "head") throw_no_swappable_child("VisionTransformer", name);
  head = replacement;
}

namespace {

// The builder of one variant: its embed_dim, depth and num_heads are the defaults that the
// config's fields override.
ModelBuilder vit_builder(const std::string& model_type, const ViTOptions& variant) {
  return [model_type, variant](ConfigFields& fields) -> std::shared_ptr<BitModel> {
    ViTOptions options;
    options.image_size(fields.get_int("image_size", variant.image_size(), 1))
        .patch_size(fields.get_int("patch_size", variant.patch_size(), 1))
        .in_channels(fields.get_int("in_channels", variant.in_channels(), 1))
        .num_classes(fields.get_int("num_classes", variant.num_classes(), 1))
        .embed_dim(fields.get_int("embed_dim", variant.embed_dim(), 1))
        .depth(fields.get_int("depth", variant.depth(), 1))
        .num_heads(fields.get_int("num_heads", variant.num_heads(), 1))
        .mlp_ratio(fields.get_double("mlp_ratio", variant.mlp_ratio(), 0.0));
    options.validate(fields.context());
    auto model = std::make_shared<VisionTransformer>(options);
    model->config.model_type = model_type;
    return model;
  };
}

}  // namespace

BITLAB_REGISTER_MODEL("vit_tiny", "ViT-Ti/16 (timm layout): embed_dim 192, depth 12, 3 heads",
                      vit_builder("vit_tiny", ViTOptions().embed_dim(192).depth(12).num_heads(3)));
BITLAB_REGISTER_MODEL("vit_small", "ViT-S/16 (timm layout): embed_dim 384, depth 12, 6 heads",
                      vit_builder("vit_small", ViTOptions().embed_dim(384).depth(12).num_heads(6)));

}  // namespace bitzoo
}  // namespace bitlab
