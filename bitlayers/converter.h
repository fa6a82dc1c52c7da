// BitConverter: turns a trained float32 libtorch model into a ternary one in place, replacing
// torch::nn::Linear, Conv1d/2d/3d, Embedding and MultiheadAttention with their Bit layers
// (weights copied), and says for every module of the tree what happened to it and why.
//
// Why converting a C++ model needs the model's help. In Python a parent's forward looks its
// children up by attribute, so swapping a child swaps what runs. In libtorch a parent's
// forward calls its typed member (`torch::nn::Linear fc;` ... `fc(x)`), and
// Module::replace_module() changes only the registry that parameters() and named_modules()
// read: the forward would silently go on running the float layer. So the converter replaces a
// child only where it can also change what the parent's forward calls:
//   - torch::nn::Sequential: its forward runs the AnyModules it stores; the converter swaps
//     the AnyModule in place.
//   - torch::nn::ModuleList / ModuleDict: they have no forward; the converter swaps the stored
//     pointer, so code that reads the element after conversion gets the Bit layer. Code that
//     casts such an element to the float type (`list[i]->as<torch::nn::Linear>()`) gets
//     nullptr afterwards: call elements through a generic path or hold them in a Sequential.
//   - A custom module that implements bitlab::SwappableChildren: it holds its convertible
//     children as torch::nn::AnyModule members, calls them with `.forward(x)`, and
//     replace_child() points the member at the replacement.
// Any other parent keeps its convertible children in float32, and the report says so for each
// one, with the fix. The converter never reports converted a layer the forward does not run.
//
// Example:
//   // In the model: `torch::nn::AnyModule fc_;` registered as "fc", called `fc_.forward(x)`,
//   // and replace_child("fc", m) { fc_ = m; }.
//   bitlab::ConversionRule keep_ends;
//   keep_ends.pattern = "^conv1$|^fc$";
//   keep_ends.keep_float = true;
//   keep_ends.name = "first and last layer";
//   bitlab::ConversionReport report = bitlab::BitConverter::convert(
//       *model, bitlab::BitQuantConfig::from_string("ai8pc_wpt"), {keep_ends});
//   std::cout << report.to_string();
//   bitlab::deploy_bit_layers(*model);   // packs every Bit layer, frees float weights
#ifndef BITLAB_BITLAYERS_CONVERTER_H_
#define BITLAB_BITLAYERS_CONVERTER_H_

#include <cstdint>
#include <string>
#include <vector>

#include <c10/util/Optional.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/any.h>

#include "bitcore/quant_config.h"

namespace bitlab {

/// Implemented by custom modules whose convertible children the converter may replace.
///
/// Example:
///   struct BlockImpl : torch::nn::Module, bitlab::SwappableChildren {
///     BlockImpl() { fc_ = torch::nn::AnyModule(register_module("fc", torch::nn::Linear(8, 8))); }
///     torch::Tensor forward(const torch::Tensor& x) { return fc_.forward(x); }
///     void replace_child(const std::string& name, const torch::nn::AnyModule& m) override {
///       if (name != "fc") throw bitlab::BitLabError("Block: no swappable child " + name);
///       fc_ = m;
///     }
///     torch::nn::AnyModule fc_;
///   };
class SwappableChildren {
 public:
  virtual ~SwappableChildren() = default;
  /// Makes forward() call `replacement` where it called the child registered as `name`. The
  /// converter calls it before re-registering the child (Module::replace_module), so a throw
  /// leaves the module as it was, and the child is reported kept with the message.
  virtual void replace_child(const std::string& name, const torch::nn::AnyModule& replacement) = 0;
};

/// How the converter treats convertible layers whose dotted path matches `pattern`.
/// Rules apply to convertible layers only (a pattern such as "^layer4\\." reaches every layer
/// below layer4); the first rule that matches wins.
struct ConversionRule {
  /// std::regex (ECMAScript), matched with std::regex_search against the dotted path from
  /// the root, e.g. "^conv1$|^fc$" or "attn".
  std::string pattern;
  /// Keep matching layers in float32.
  bool keep_float = false;
  /// Convert matching layers with this config instead of convert()'s.
  c10::optional<BitQuantConfig> config;
  /// Names the rule in the report; the pattern is used when empty.
  std::string name;
};

enum class ConversionStatus {
  /// Replaced by a Bit layer that the parent's forward now calls.
  kConverted,
  /// Stays as it is; `reason` says why.
  kKept,
  /// A module whose children were visited (containers, custom modules); its own parameters,
  /// if any, stay float32.
  kContainer,
  /// Below a converted layer: replaced together with it; counted in its row.
  kPartOfConverted,
};

/// "converted", "kept", "container", "part of converted".
const char* to_string(ConversionStatus status);

/// What happened to one module path of the tree as it was before conversion.
struct ConversionEntry {
  /// Dotted path from the root ("layer1.0.conv1"); "" is the root itself.
  std::string path;
  /// The module's type before conversion, e.g. "torch::nn::Conv2d".
  std::string type;
  ConversionStatus status = ConversionStatus::kKept;
  /// The replacement's type, e.g. "bitlab::BitConv2d" (kConverted only).
  std::string converted_to;
  /// The name of the rule that decided, if one matched.
  std::string rule;
  /// Why a module was kept, or what kind of container it is.
  std::string reason;
  /// Parameters (elements) the entry accounts for: the whole replaced layer for kConverted,
  /// the module's own parameters otherwise, 0 for kPartOfConverted.
  int64_t parameters = 0;
  /// Bytes in float32 and once deployed, counted like `parameters` (buffers included; see
  /// memory_report.h). Before deploy, a converted layer's deployed bytes are what deploy()
  /// will leave.
  int64_t float_bytes = 0;
  int64_t deployed_bytes = 0;
};

struct ConversionReport {
  /// One entry for every path of named_modules() before conversion, in that order.
  std::vector<ConversionEntry> entries;
  int64_t num_converted = 0;
  /// Convertible layers (Linear, Conv1d/2d/3d, Embedding, MultiheadAttention) left in float32.
  int64_t num_convertible_kept = 0;
  int64_t total_parameters = 0;
  int64_t converted_parameters = 0;
  int64_t total_float_bytes = 0;
  int64_t total_deployed_bytes = 0;

  /// The entry for `path`, or nullptr.
  const ConversionEntry* find(const std::string& path) const;
  /// total_float_bytes / total_deployed_bytes; 1 when there are no bytes.
  double compression_ratio() const;
  /// An aligned table, one row per entry, then the totals.
  std::string to_string() const;
};

class BitConverter {
 public:
  /// Replaces every convertible layer below `module` that no keep_float rule matches and
  /// whose parent can swap it (see the file comment) with its Bit layer, copying weights and
  /// keeping each layer's training mode and device. Layers the Bit layers cannot represent
  /// (e.g. attention with add_bias_kv, sparse embeddings) are kept with the Bit layer's reason;
  /// Bit layers already in the tree are left alone.
  ///
  /// Throws BitLabError when a rule's pattern is not a valid regex (naming it), or when
  /// `module` itself is a convertible layer: a root has no parent to swap it in, so use the
  /// layer's factory (BitLinearImpl::from_linear, BitConvImpl<D>::from_torch, ...) instead.
  static ConversionReport convert(torch::nn::Module& module, const BitQuantConfig& config,
                                  const std::vector<ConversionRule>& rules = {});
};

/// Calls deploy() on every BitLayer in `module` (itself included; composites such as attention
/// are deployed through theirs) and puts the whole tree in eval mode. Irreversible for the Bit
/// layers (see BitLinear).
void deploy_bit_layers(torch::nn::Module& module);

}  // namespace bitlab

#endif  // BITLAB_BITLAYERS_CONVERTER_H_
