// VisionTransformer: ViT (Dosovitskiy et al., 2021) laid out like timm's
// vision_transformer.VisionTransformer, registered as model types "vit_tiny" (ViT-Ti/16) and
// "vit_small" (ViT-S/16).
//
//   patch_embed.proj   torch::nn::Conv2d in_channels -> embed_dim, kernel = stride = patch_size
//   cls_token          parameter [1, 1, embed_dim], prepended to the patch tokens
//   pos_embed          parameter [1, 1 + (image_size / patch_size)^2, embed_dim], learned
//   blocks.<i>         pre-norm EncoderBlocks (encoder_block.h: norm1, attn.{q,k,v,proj},
//                      norm2, mlp.{fc1,fc2})
//   norm               final torch::nn::LayerNorm (eps 1e-6, as timm)
//   head               torch::nn::Linear embed_dim -> num_classes, on the class token
// At the defaults the parameter counts are timm's: 5,717,416 (vit_tiny) and 22,050,664
// (vit_small). No dropout, no stochastic depth.
//
// default_rules() keep `patch_embed.proj` and `head` in float32, as BitNet-style models keep
// the first and last layer; every Linear of the blocks converts.
//
// Config fields (the "architecture" object), with defaults:
//   image_size 224, patch_size 16, in_channels 3, num_classes 1000, mlp_ratio 4.0,
//   embed_dim / depth / num_heads: the variant's (vit_tiny 192 / 12 / 3, vit_small 384 / 12 / 6).
// image_size must be a multiple of patch_size and embed_dim of num_heads (ConfigError).
//
// Example:
//   bitlab::AutoBitConfig config;
//   config.model_type = "vit_tiny";
//   config.architecture = {{"image_size", 32}, {"patch_size", 4}, {"num_classes", 10}};
//   auto model = bitlab::AutoBitModel::from_config(config);
//   torch::Tensor logits = model->forward(torch::randn({8, 3, 32, 32}));   // [8, 10]
//   // Or directly, in float32:
//   auto vit = std::make_shared<bitlab::bitzoo::VisionTransformer>(
//       bitlab::bitzoo::ViTOptions().embed_dim(192).depth(12).num_heads(3));
#ifndef BITLAB_BITZOO_TRANSFORMER_VIT_H_
#define BITLAB_BITZOO_TRANSFORMER_VIT_H_

#include <cstdint>
#include <string>
#include <vector>

#include <torch/arg.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/any.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include "bitlayers/converter.h"
#include "bitmodels/bit_model.h"

namespace bitlab {
namespace bitzoo {

struct ViTOptions {
  /// int(embed_dim * mlp_ratio), as timm computes the MLP width.
  int64_t mlp_hidden() const;
  /// (image_size / patch_size)^2.
  int64_t num_patches() const;
  /// Throws ConfigError naming the fields when image_size is not a multiple of patch_size,
  /// embed_dim not a multiple of num_heads, or the MLP would have no hidden unit. `context`
  /// prefixes the message (the config's, when a builder validates).
  void validate(const std::string& context = "ViTOptions") const;

  TORCH_ARG(int64_t, image_size) = 224;
  TORCH_ARG(int64_t, patch_size) = 16;
  TORCH_ARG(int64_t, in_channels) = 3;
  TORCH_ARG(int64_t, num_classes) = 1000;
  TORCH_ARG(int64_t, embed_dim) = 192;
  TORCH_ARG(int64_t, depth) = 12;
  TORCH_ARG(int64_t, num_heads) = 3;
  /// The MLP's hidden width over embed_dim (see mlp_hidden()).
  TORCH_ARG(double, mlp_ratio) = 4.0;
};

/// Cuts an image into patch_size x patch_size patches and embeds each: [B, C, H, W] ->
/// [B, (H / patch_size) * (W / patch_size), embed_dim].
class PatchEmbedImpl : public torch::nn::Module, public SwappableChildren {
 public:
  PatchEmbedImpl(int64_t in_channels, int64_t embed_dim, int64_t patch_size);

  torch::Tensor forward(const torch::Tensor& images);
  void replace_child(const std::string& name, const torch::nn::AnyModule& replacement) override;

  torch::nn::AnyModule proj;
};
TORCH_MODULE(PatchEmbed);

class VisionTransformer : public BitModel, public SwappableChildren {
 public:
  /// Throws ConfigError when `options` are inconsistent (ViTOptions::validate).
  explicit VisionTransformer(const ViTOptions& options = {});

  /// Images [B, in_channels, image_size, image_size] (floating) -> logits [B, num_classes].
  /// Another shape or dtype throws ShapeError naming the expected and the given one.
  torch::Tensor forward(const torch::Tensor& images) override;
  /// torch::randn({batch, in_channels, image_size, image_size}).
  torch::Tensor example_input(int64_t batch) const override;
  /// Keeps "patch_embed.proj" and "head" in float32.
  std::vector<ConversionRule> default_rules() const override;
  void replace_child(const std::string& name, const torch::nn::AnyModule& replacement) override;

  const ViTOptions options;
  PatchEmbed patch_embed = nullptr;
  torch::Tensor cls_token;
  torch::Tensor pos_embed;
  torch::nn::ModuleList blocks = nullptr;
  torch::nn::LayerNorm norm = nullptr;
  torch::nn::AnyModule head;
};

}  // namespace bitzoo
}  // namespace bitlab

#endif  // BITLAB_BITZOO_TRANSFORMER_VIT_H_
