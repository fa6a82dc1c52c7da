// What the vision architectures of the zoo share: the ImageClassifier base (example_input and
// the input check from in_channels and image_size), the "stem" field, SwappableMembers
// (replace_child for convertible children held as torch::nn::AnyModule members, see
// bitlayers/converter.h), the keep-float rule helper and torchvision's initialization of
// convolutions and batch norms.
//
// Example (a block whose convolution BitConverter can swap for a BitConv2d):
//   class BlockImpl : public torch::nn::Module, public bitlab::bitzoo::SwappableMembers {
//    public:
//     BlockImpl() { register_swappable(*this, "conv", conv, torch::nn::Conv2d(8, 8, 3)); }
//     torch::Tensor forward(const torch::Tensor& x) { return conv.forward(x); }
//     torch::nn::AnyModule conv;
//   };
#ifndef BITLAB_BITZOO_VISION_VISION_COMMON_H_
#define BITLAB_BITZOO_VISION_VISION_COMMON_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/any.h>

#include "bitlayers/converter.h"
#include "bitmodels/bit_model.h"
#include "bitmodels/config_fields.h"

namespace bitlab {
namespace bitzoo {

/// A BitModel mapping images [B, in_channels, H, W] to logits [B, num_classes].
class ImageClassifier : public BitModel {
 public:
  /// `model_type` goes to config.model_type. `fixed_size`: the architecture accepts only
  /// image_size x image_size inputs (it flattens feature maps into a Linear); otherwise any
  /// size works (global average pooling) and image_size only shapes example_input().
  ImageClassifier(const std::string& model_type, int64_t in_channels, int64_t image_size,
                  bool fixed_size);

  /// torch::randn({batch, in_channels, image_size, image_size}).
  torch::Tensor example_input(int64_t batch) const override;

  int64_t in_channels() const { return in_channels_; }
  int64_t image_size() const { return image_size_; }

 protected:
  /// Throws ShapeError unless `input` is [B, in_channels, H, W] (H = W = image_size when the
  /// size is fixed), so a wrong input fails naming the model instead of deep in a layer.
  void check_input(const torch::Tensor& input) const;

 private:
  int64_t in_channels_;
  int64_t image_size_;
  bool fixed_size_;
};

/// The input stem of ResNet and MobileNetV2: torchvision's, for ImageNet-sized inputs, or
/// "small", without the stem's downsampling, for 28x28 / 32x32 inputs (whose feature maps an
/// ImageNet stem would shrink to 1x1 before the last stage).
enum class Stem { kImageNet, kSmall };

/// Reads the field "stem": "imagenet" (the default) or "small".
Stem read_stem(ConfigFields& fields);

/// The image_size default for `stem`: 224 (kImageNet) or 32 (kSmall).
int64_t default_image_size(Stem stem);

/// Implements SwappableChildren for a module whose convertible children are AnyModule members
/// registered with register_swappable(): replace_child() points the member of that name at the
/// replacement, so the module's forward (which calls `member.forward(x)`) runs it.
class SwappableMembers : public SwappableChildren {
 public:
  SwappableMembers() = default;
  // The table points at members of this object: a copy would swap the original's members.
  SwappableMembers(const SwappableMembers&) = delete;
  SwappableMembers& operator=(const SwappableMembers&) = delete;

  void replace_child(const std::string& name, const torch::nn::AnyModule& replacement) override;

 protected:
  /// Registers `module` as `owner`'s child `name` and points `member` (a member of `owner`
  /// that outlives the registration, e.g. not an element of a vector that grows later) at it.
  template <typename ModuleHolder>
  void register_swappable(torch::nn::Module& owner, const std::string& name,
                          torch::nn::AnyModule& member, ModuleHolder module) {
    member = torch::nn::AnyModule(owner.register_module(name, std::move(module)));
    members_[name] = &member;
  }

 private:
  std::map<std::string, torch::nn::AnyModule*> members_;
};

/// A ConversionRule keeping the layers whose path matches `pattern` in float32.
ConversionRule keep_float_rule(const std::string& pattern, const std::string& name);

/// torchvision's initialization of ResNet and MobileNetV2: every Conv2d He-normal (fan_out,
/// ReLU gain) with zero bias, every BatchNorm2d weight 1 and bias 0. Other layers keep theirs.
/// Does nothing while building a deployed skeleton (bitlayers/deployed_skeleton.h).
void init_convs_and_batchnorms(torch::nn::Module& module);

}  // namespace bitzoo
}  // namespace bitlab

#endif  // BITLAB_BITZOO_VISION_VISION_COMMON_H_
