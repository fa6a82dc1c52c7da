#include "bitlayers/converter.h"

#include <algorithm>
#include <memory>
#include <regex>
#include <unordered_map>
#include <utility>

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/moduledict.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bitcore/errors.h"
#include "bitlayers/bit_attention.h"
#include "bitlayers/bit_conv.h"
#include "bitlayers/bit_embedding.h"
#include "bitlayers/bit_layer.h"
#include "bitlayers/bit_linear.h"
#include "bitlayers/deployed_skeleton.h"
#include "bitlayers/memory_report.h"

namespace bitlab {
namespace {

enum class LayerKind { kNone, kLinear, kConv1d, kConv2d, kConv3d, kEmbedding, kAttention };

LayerKind convertible_kind(const torch::nn::Module& m) {
  if (dynamic_cast<const torch::nn::LinearImpl*>(&m)) return LayerKind::kLinear;
  if (dynamic_cast<const torch::nn::Conv1dImpl*>(&m)) return LayerKind::kConv1d;
  if (dynamic_cast<const torch::nn::Conv2dImpl*>(&m)) return LayerKind::kConv2d;
  if (dynamic_cast<const torch::nn::Conv3dImpl*>(&m)) return LayerKind::kConv3d;
  if (dynamic_cast<const torch::nn::EmbeddingImpl*>(&m)) return LayerKind::kEmbedding;
  if (dynamic_cast<const torch::nn::MultiheadAttentionImpl*>(&m)) return LayerKind::kAttention;
  return LayerKind::kNone;
}

const char* factory_name(LayerKind kind) {
  switch (kind) {
    case LayerKind::kLinear:
      return "bitlab::BitLinearImpl::from_linear";
    case LayerKind::kConv1d:
    case LayerKind::kConv2d:
    case LayerKind::kConv3d:
      return "bitlab::BitConvImpl<D>::from_torch";
    case LayerKind::kEmbedding:
      return "bitlab::BitEmbeddingImpl::from_torch";
    case LayerKind::kAttention:
      return "bitlab::BitMultiheadAttentionImpl::from_torch";
    case LayerKind::kNone:
      break;
  }
  return "";
}

bool is_container(const torch::nn::Module& m) {
  return dynamic_cast<const torch::nn::SequentialImpl*>(&m) != nullptr ||
         dynamic_cast<const torch::nn::ModuleListImpl*>(&m) != nullptr ||
         dynamic_cast<const torch::nn::ModuleDictImpl*>(&m) != nullptr;
}

bool can_swap_children(torch::nn::Module& m) {
  return is_container(m) || dynamic_cast<SwappableChildren*>(&m) != nullptr;
}

bool is_transposed_conv(const torch::nn::Module& m) {
  return dynamic_cast<const torch::nn::ConvTranspose1dImpl*>(&m) != nullptr ||
         dynamic_cast<const torch::nn::ConvTranspose2dImpl*>(&m) != nullptr ||
         dynamic_cast<const torch::nn::ConvTranspose3dImpl*>(&m) != nullptr;
}

std::string join_path(const std::string& parent, const std::string& name) {
  return parent.empty() ? name : absl::StrCat(parent, ".", name);
}

std::string display_path(const std::string& path) { return path.empty() ? "<root>" : path; }

int64_t count_parameters(const torch::nn::Module& m, bool recurse) {
  int64_t n = 0;
  for (const torch::Tensor& p : m.parameters(recurse)) n += p.defined() ? p.numel() : 0;
  return n;
}

// A Bit layer made from a float one, held both ways the parents need it.
struct Replacement {
  std::shared_ptr<torch::nn::Module> module;
  torch::nn::AnyModule any;
};

template <size_t D>
Replacement make_conv(torch::nn::Module& m, const BitQuantConfig& config) {
  auto layer = BitConvImpl<D>::from_torch(dynamic_cast<TorchConvImpl<D>&>(m), config);
  return {layer, torch::nn::AnyModule(layer)};
}

Replacement make_replacement(torch::nn::Module& m, LayerKind kind, const BitQuantConfig& config) {
  Replacement r;
  switch (kind) {
    case LayerKind::kLinear: {
      auto linear = std::dynamic_pointer_cast<torch::nn::LinearImpl>(m.shared_from_this());
      auto layer = BitLinearImpl::from_linear(torch::nn::Linear(linear), config);
      r = {layer, torch::nn::AnyModule(layer)};
      break;
    }
    case LayerKind::kConv1d:
      r = make_conv<1>(m, config);
      break;
    case LayerKind::kConv2d:
      r = make_conv<2>(m, config);
      break;
    case LayerKind::kConv3d:
      r = make_conv<3>(m, config);
      break;
    case LayerKind::kEmbedding: {
      auto layer = BitEmbeddingImpl::from_torch(dynamic_cast<torch::nn::EmbeddingImpl&>(m), config);
      r = {layer, torch::nn::AnyModule(layer)};
      break;
    }
    case LayerKind::kAttention: {
      auto layer = BitMultiheadAttentionImpl::from_torch(
          dynamic_cast<torch::nn::MultiheadAttentionImpl&>(m), config);
      r = {layer, torch::nn::AnyModule(layer)};
      break;
    }
    case LayerKind::kNone:
      throw BitLabError("BitConverter: internal error: no Bit layer for " + m.name());
  }
  // Same training mode, frozen parameters stay frozen (where the names match), same device. Bit
  // layers born deployed (in a skeleton, deployed_skeleton.h) stay in eval mode.
  if (!building_deployed_skeleton()) r.module->train(m.is_training());
  const auto old_params = m.named_parameters(/*recurse=*/false);
  for (auto& item : r.module->named_parameters(/*recurse=*/false)) {
    const torch::Tensor* old = old_params.find(item.key());
    if (old != nullptr && old->defined() && item.value().defined() && !old->requires_grad()) {
      item.value().set_requires_grad(false);
    }
  }
  const std::vector<torch::Tensor> params = m.parameters();
  if (!params.empty() && params.front().defined() && !params.front().device().is_cpu()) {
    r.module->to(params.front().device());
  }
  return r;
}

// Points `parent`'s child `name` (now `old`) at the replacement, in the registry and in what
// the parent's forward calls. Throws when the parent does not hold the child where expected.
void swap_child(torch::nn::Module& parent, const std::string& parent_path, const std::string& name,
                const torch::nn::Module* old, const Replacement& r) {
  if (auto* seq = dynamic_cast<torch::nn::SequentialImpl*>(&parent)) {
    auto it = std::find_if(seq->begin(), seq->end(), [old](const torch::nn::AnyModule& any) {
      return any.ptr().get() == old;
    });
    if (it == seq->end()) {
      throw BitLabError(absl::StrCat("the Sequential '", display_path(parent_path),
                                     "' registers child '", name,
                                     "' but does not run it (it is not among its AnyModules)"));
    }
    *it = r.any;
    parent.replace_module(name, r.module);
  } else if (auto* list = dynamic_cast<torch::nn::ModuleListImpl*>(&parent)) {
    auto it =
        std::find_if(list->begin(), list->end(),
                     [old](const std::shared_ptr<torch::nn::Module>& m) { return m.get() == old; });
    if (it == list->end()) {
      throw BitLabError(absl::StrCat("the ModuleList '", display_path(parent_path),
                                     "' registers child '", name, "' but does not hold it"));
    }
    *it = r.module;
    parent.replace_module(name, r.module);
  } else if (auto* dict = dynamic_cast<torch::nn::ModuleDictImpl*>(&parent)) {
    if (!dict->contains(name) || (*dict)[name].get() != old) {
      throw BitLabError(absl::StrCat("the ModuleDict '", display_path(parent_path),
                                     "' registers child '", name, "' but does not hold it"));
    }
    dict->update(
        std::vector<std::pair<std::string, std::shared_ptr<torch::nn::Module>>>{{name, r.module}});
  } else if (auto* swappable = dynamic_cast<SwappableChildren*>(&parent)) {
    swappable->replace_child(name, r.any);  // first, so a throw leaves the registry alone
    parent.replace_module(name, r.module);
  } else {
    throw BitLabError("BitConverter: internal error: swap_child on a parent that cannot swap");
  }
}

struct CompiledRule {
  std::regex regex;
  const ConversionRule* rule;
  std::string display_name;
};

class Converter {
 public:
  Converter(const BitQuantConfig& config, const std::vector<ConversionRule>& rules)
      : config_(config) {
    for (const ConversionRule& rule : rules) {
      CompiledRule compiled;
      try {
        compiled.regex = std::regex(rule.pattern, std::regex::ECMAScript);
      } catch (const std::regex_error& e) {
        throw BitLabError(absl::StrCat(
            "BitConverter: rule ", rule.name.empty() ? "" : absl::StrCat("'", rule.name, "' "),
            "has an invalid regex pattern \"", rule.pattern, "\": ", e.what()));
      }
      if (rule.config.has_value()) rule.config->validate();
      compiled.rule = &rule;
      compiled.display_name =
          rule.name.empty() ? absl::StrCat("pattern \"", rule.pattern, "\"") : rule.name;
      rules_.push_back(std::move(compiled));
    }
  }

  ConversionReport run(torch::nn::Module& root) {
    const LayerKind root_kind = convertible_kind(root);
    if (root_kind != LayerKind::kNone) {
      throw BitLabError(absl::StrCat(
          "BitConverter: the root module is itself a convertible layer (", module_type_name(root),
          "); a root has no parent to swap it in, so convert it with ", factory_name(root_kind),
          " instead, or convert a module that contains it"));
    }
    add_other(root, "");
    walk(root, "");
    return std::move(report_);
  }

 private:
  void walk(torch::nn::Module& parent, const std::string& parent_path) {
    for (const auto& item : parent.named_children()) {
      const std::string path = join_path(parent_path, item.key());
      torch::nn::Module& child = *item.value();
      const LayerKind kind = convertible_kind(child);
      if (kind == LayerKind::kNone) {
        add_other(child, path);
        walk(child, path);
      } else {
        visit_convertible(parent, parent_path, item.key(), child, path, kind);
      }
    }
  }

  // A module that is not itself convertible: a container, a custom module, a Bit layer or a
  // layer without a ternary version.
  void add_other(torch::nn::Module& m, const std::string& path) {
    ConversionEntry entry = own_entry(m, path);
    const bool has_children = !m.children().empty();
    if (dynamic_cast<BitLayer*>(&m) || dynamic_cast<BitMultiheadAttentionImpl*>(&m)) {
      entry.status = ConversionStatus::kKept;
      entry.reason = "already a Bit layer";
    } else if (is_transposed_conv(m)) {
      entry.status = ConversionStatus::kKept;
      entry.reason = "transposed convolution: BitConv covers Conv1d/2d/3d only";
    } else if (is_container(m)) {
      entry.status = ConversionStatus::kContainer;
      entry.reason = "container: children swapped in place";
    } else if (dynamic_cast<SwappableChildren*>(&m)) {
      entry.status = ConversionStatus::kContainer;
      entry.reason = "swaps its children (SwappableChildren)";
    } else if (has_children) {
      entry.status = ConversionStatus::kContainer;
      bool convertible_child = false;
      for (const auto& c : m.children()) {
        convertible_child |= convertible_kind(*c) != LayerKind::kNone;
      }
      entry.reason = convertible_child
                         ? "no SwappableChildren: its convertible children stay float32"
                         : "children visited";
    } else {
      entry.status = ConversionStatus::kKept;
      entry.reason = "not a convertible type";
    }
    add(std::move(entry));
  }

  void visit_convertible(torch::nn::Module& parent, const std::string& parent_path,
                         const std::string& name, torch::nn::Module& child, const std::string& path,
                         LayerKind kind) {
    const CompiledRule* rule = match(path);
    ConversionEntry entry;
    entry.path = path;
    entry.type = module_type_name(child);
    if (rule != nullptr) entry.rule = rule->display_name;

    std::string kept_reason;
    Replacement replacement;
    if (rule != nullptr && rule->rule->keep_float) {
      kept_reason = absl::StrCat("rule '", rule->display_name, "' keeps it float32");
    } else if (!can_swap_children(parent)) {
      kept_reason = absl::StrCat(
          "parent '", display_path(parent_path), "' (", module_type_name(parent),
          ") does not implement bitlab::SwappableChildren, so its forward would keep calling "
          "the float layer; hold this child in a torch::nn::AnyModule member and implement "
          "replace_child() to convert it");
    } else {
      const BitQuantConfig& config =
          rule != nullptr && rule->rule->config.has_value() ? *rule->rule->config : config_;
      try {
        auto done = done_.find(&child);
        replacement = done != done_.end() ? done->second : make_replacement(child, kind, config);
      } catch (const BitLabError& e) {
        kept_reason = absl::StrCat("the Bit layer cannot represent it: ", e.what());
      }
      if (kept_reason.empty()) {
        try {
          swap_child(parent, parent_path, name, &child, replacement);
        } catch (const std::exception& e) {
          kept_reason = absl::StrCat("could not swap it into its parent: ", e.what());
        }
      }
    }

    if (!kept_reason.empty()) {
      ConversionEntry own = own_entry(child, path);
      own.rule = entry.rule;
      own.status = ConversionStatus::kKept;
      own.reason = std::move(kept_reason);
      add(std::move(own));
      ++report_.num_convertible_kept;
      for (const auto& item : child.named_modules(path, /*include_self=*/false)) {
        ConversionEntry part = own_entry(*item.value(), item.key());
        part.status = ConversionStatus::kKept;
        part.reason = absl::StrCat("part of '", path, "', which is kept");
        add(std::move(part));
      }
      return;
    }

    done_.emplace(&child, replacement);
    replaced_.push_back(child.shared_from_this());
    entry.status = ConversionStatus::kConverted;
    entry.converted_to = module_type_name(*replacement.module);
    entry.parameters = count_parameters(child, /*recurse=*/true);
    entry.float_bytes = memory_report(child).total_float_bytes;
    entry.deployed_bytes = memory_report(*replacement.module).total_deployed_bytes;
    report_.converted_parameters += entry.parameters;
    ++report_.num_converted;
    add(std::move(entry));
    for (const auto& item : child.named_modules(path, /*include_self=*/false)) {
      ConversionEntry part;
      part.path = item.key();
      part.type = module_type_name(*item.value());
      part.status = ConversionStatus::kPartOfConverted;
      part.reason = absl::StrCat("replaced together with '", path, "'");
      add(std::move(part));
    }
  }

  // An entry counting the module's own parameters and bytes.
  static ConversionEntry own_entry(const torch::nn::Module& m, const std::string& path) {
    ConversionEntry entry;
    entry.path = path;
    entry.type = module_type_name(m);
    entry.parameters = count_parameters(m, /*recurse=*/false);
    const ModuleBytes bytes = module_bytes(m);
    entry.float_bytes = bytes.float_bytes;
    entry.deployed_bytes = bytes.deployed_bytes;
    return entry;
  }

  const CompiledRule* match(const std::string& path) const {
    for (const CompiledRule& rule : rules_) {
      if (std::regex_search(path, rule.regex)) return &rule;
    }
    return nullptr;
  }

  void add(ConversionEntry entry) {
    report_.total_parameters += entry.parameters;
    report_.total_float_bytes += entry.float_bytes;
    report_.total_deployed_bytes += entry.deployed_bytes;
    report_.entries.push_back(std::move(entry));
  }

  BitQuantConfig config_;
  std::vector<CompiledRule> rules_;
  ConversionReport report_;
  // Layers already converted, so a layer registered at two paths stays one (shared) layer.
  // The float layers are held too, so that no address is reused while the map lives.
  std::unordered_map<const torch::nn::Module*, Replacement> done_;
  std::vector<std::shared_ptr<torch::nn::Module>> replaced_;
};

}  // namespace

const char* to_string(ConversionStatus status) {
  switch (status) {
    case ConversionStatus::kConverted:
      return "converted";
    case ConversionStatus::kKept:
      return "kept";
    case ConversionStatus::kContainer:
      return "container";
    case ConversionStatus::kPartOfConverted:
      return "part of converted";
  }
  return "";
}

const ConversionEntry* ConversionReport::find(const std::string& path) const {
  for (const ConversionEntry& entry : entries) {
    if (entry.path == path) return &entry;
  }
  return nullptr;
}

double ConversionReport::compression_ratio() const {
  if (total_deployed_bytes == 0) return 1.0;
  return static_cast<double>(total_float_bytes) / static_cast<double>(total_deployed_bytes);
}

std::string ConversionReport::to_string() const {
  size_t path_width = 6;  // "<root>"
  size_t type_width = 4;
  for (const ConversionEntry& e : entries) {
    path_width = std::max(path_width, e.path.size());
    type_width = std::max(type_width, e.type.size());
  }
  const auto row = [&](const std::string& path, const std::string& type, const std::string& status,
                       const std::string& params, const std::string& fp32,
                       const std::string& deployed, const std::string& detail) {
    std::string line = absl::StrFormat(
        "%-*s  %-*s  %-17s  %10s  %11s  %11s  %s", static_cast<int>(path_width), path,
        static_cast<int>(type_width), type, status, params, fp32, deployed, detail);
    absl::StripTrailingAsciiWhitespace(&line);
    return line + "\n";
  };
  std::string out = row("path", "type", "status", "params", "float32", "deployed", "detail");
  for (const ConversionEntry& e : entries) {
    std::string detail =
        e.status == ConversionStatus::kConverted ? absl::StrCat("-> ", e.converted_to) : e.reason;
    if (e.status == ConversionStatus::kConverted && !e.rule.empty()) {
      absl::StrAppend(&detail, " (rule '", e.rule, "')");
    }
    const bool counted = e.status != ConversionStatus::kPartOfConverted;
    out +=
        row(display_path(e.path), e.type, bitlab::to_string(e.status),
            counted ? absl::StrCat(e.parameters) : "", counted ? format_bytes(e.float_bytes) : "",
            counted ? format_bytes(e.deployed_bytes) : "", detail);
  }
  out += row("total", "", "", absl::StrCat(total_parameters), format_bytes(total_float_bytes),
             format_bytes(total_deployed_bytes),
             absl::StrFormat("%d converted (%d parameters), %d convertible kept; %.2fx smaller",
                             num_converted, converted_parameters, num_convertible_kept,
                             compression_ratio()));
  return out;
}

ConversionReport BitConverter::convert(torch::nn::Module& module, const BitQuantConfig& config,
                                       const std::vector<ConversionRule>& rules) {
  config.validate();
  return Converter(config, rules).run(module);
}

void deploy_bit_layers(torch::nn::Module& module) {
  for (const std::shared_ptr<torch::nn::Module>& m : module.modules(/*include_self=*/true)) {
    // Composite modules (attention, transformer blocks) are deployed through their Bit layers.
    if (auto* bit = dynamic_cast<BitLayer*>(m.get())) bit->deploy();
  }
  module.eval();
}

}  // namespace bitlab
