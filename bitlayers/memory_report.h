// memory_report: how many bytes a module tree holds now in float32 and how many it will hold
// once its Bit layers are deployed, layer by layer.
//
// Bit layers (anything implementing bitlab::BitLayer) answer through that interface:
// float_bytes() is what the float32 layer they replace holds, deployed_bytes() what they keep
// once deployed (packed t2 weights, scales, bias), whether or not deploy() has run yet. Any
// other module counts the parameters and buffers it holds itself (not its children's), in
// their own dtypes, the same in both columns. A module registered at two paths counts at each.
//
// Example:
//   bitlab::MemoryReport before = bitlab::memory_report(*model);
//   bitlab::BitConverter::convert(*model, config);
//   bitlab::MemoryReport after = bitlab::memory_report(*model);
//   std::cout << after.to_string();              // one row per layer, then the totals
//   double smaller = after.compression_ratio();  // float32 bytes / deployed bytes
#ifndef BITLAB_BITLAYERS_MEMORY_REPORT_H_
#define BITLAB_BITLAYERS_MEMORY_REPORT_H_

#include <cstdint>
#include <string>
#include <vector>

#include <torch/nn/module.h>

namespace bitlab {

/// One module of the tree that holds something.
struct MemoryEntry {
  /// Dotted path from the root ("layer1.0.conv1"); "" is the root itself.
  std::string path;
  /// The module's type, e.g. "torch::nn::BatchNorm2d" or "bitlab::BitConv2d".
  std::string type;
  /// Whether the module is a Bit layer (answers through bitlab::BitLayer).
  bool bit_layer = false;
  /// Whether that Bit layer has been deployed (false for other modules).
  bool deployed = false;
  int64_t float_bytes = 0;
  int64_t deployed_bytes = 0;
};

struct MemoryReport {
  /// Modules that hold parameters or buffers, and every Bit layer, in named_modules() order.
  /// The children of a Bit layer are part of it and not listed.
  std::vector<MemoryEntry> layers;
  int64_t total_float_bytes = 0;
  int64_t total_deployed_bytes = 0;

  /// total_float_bytes / total_deployed_bytes; 1 for a tree that holds nothing.
  double compression_ratio() const;
  /// An aligned table, one row per layer, then the totals and the ratio.
  std::string to_string() const;
};

/// The report for `module` and everything below it.
MemoryReport memory_report(const torch::nn::Module& module);

/// The bytes of one module alone, as memory_report counts them (see the file comment).
struct ModuleBytes {
  int64_t float_bytes = 0;
  int64_t deployed_bytes = 0;
};
ModuleBytes module_bytes(const torch::nn::Module& module);

/// The module's type for reports: its C++ type without libtorch's "Impl" suffix
/// ("torch::nn::Conv2d", "bitlab::BitConv2d", "bitlab::BitLinear").
std::string module_type_name(const torch::nn::Module& module);

/// "512 B", "36.8 KiB", "42.6 MiB": bytes for people.
std::string format_bytes(int64_t bytes);

}  // namespace bitlab

#endif  // BITLAB_BITLAYERS_MEMORY_REPORT_H_
