#include "bitlayers/memory_report.h"

#include <algorithm>
#include <memory>
#include <regex>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bitlayers/bit_layer.h"

namespace bitlab {
namespace {

int64_t tensor_bytes(const torch::Tensor& tensor) {
  return tensor.defined() ? tensor.numel() * static_cast<int64_t>(tensor.element_size()) : 0;
}

// Whether `path` lies below `ancestor` in the dotted path tree.
bool is_below(const std::string& path, const std::string& ancestor) {
  if (ancestor.empty()) return !path.empty();
  return path.size() > ancestor.size() && path.compare(0, ancestor.size(), ancestor) == 0 &&
         path[ancestor.size()] == '.';
}

}  // namespace

ModuleBytes module_bytes(const torch::nn::Module& module) {
  if (const auto* bit = dynamic_cast<const BitLayer*>(&module)) {
    return {bit->float_bytes(), bit->deployed_bytes()};
  }
  int64_t bytes = 0;
  for (const torch::Tensor& p : module.parameters(/*recurse=*/false)) bytes += tensor_bytes(p);
  for (const torch::Tensor& b : module.buffers(/*recurse=*/false)) bytes += tensor_bytes(b);
  return {bytes, bytes};
}

std::string module_type_name(const torch::nn::Module& module) {
  std::string name = module.name();
  // bitlab::BitConvImpl<2ul> -> bitlab::BitConv2d (the dimension is the template argument).
  static const std::regex kConv(R"(BitConvImpl<(\d)u?l?>)");
  name = std::regex_replace(name, kConv, "BitConv$1d");
  const std::string suffix = "Impl";
  if (name.size() > suffix.size() &&
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
    name.resize(name.size() - suffix.size());
  }
  return name;
}

std::string format_bytes(int64_t bytes) {
  if (bytes < 1024) return absl::StrCat(bytes, " B");
  if (bytes < 1024 * 1024) return absl::StrFormat("%.1f KiB", bytes / 1024.0);
  return absl::StrFormat("%.2f MiB", bytes / (1024.0 * 1024.0));
}

MemoryReport memory_report(const torch::nn::Module& module) {
  MemoryReport report;
  std::string inside_bit_layer;  // path of the Bit layer being skipped, if any
  bool skipping = false;
  for (const auto& item : module.named_modules()) {
    const std::string& path = item.key();
    if (skipping && is_below(path, inside_bit_layer)) continue;
    skipping = false;
    const torch::nn::Module& m = *item.value();
    const auto* bit = dynamic_cast<const BitLayer*>(&m);
    const ModuleBytes bytes = module_bytes(m);
    if (bit != nullptr) {
      skipping = true;
      inside_bit_layer = path;
    } else if (bytes.float_bytes == 0) {
      continue;
    }
    MemoryEntry entry;
    entry.path = path;
    entry.type = module_type_name(m);
    entry.bit_layer = bit != nullptr;
    entry.deployed = bit != nullptr && bit->is_deployed();
    entry.float_bytes = bytes.float_bytes;
    entry.deployed_bytes = bytes.deployed_bytes;
    report.total_float_bytes += bytes.float_bytes;
    report.total_deployed_bytes += bytes.deployed_bytes;
    report.layers.push_back(std::move(entry));
  }
  return report;
}

double MemoryReport::compression_ratio() const {
  if (total_deployed_bytes == 0) return 1.0;
  return static_cast<double>(total_float_bytes) / static_cast<double>(total_deployed_bytes);
}

std::string MemoryReport::to_string() const {
  size_t path_width = 6;  // "<root>"
  size_t type_width = 4;
  for (const MemoryEntry& e : layers) {
    path_width = std::max(path_width, e.path.size());
    type_width = std::max(type_width, e.type.size());
  }
  const auto row = [&](const std::string& path, const std::string& type, const std::string& fp32,
                       const std::string& deployed, const std::string& note) {
    std::string line =
        absl::StrFormat("%-*s  %-*s  %12s  %12s  %s", static_cast<int>(path_width), path,
                        static_cast<int>(type_width), type, fp32, deployed, note);
    absl::StripTrailingAsciiWhitespace(&line);
    return line + "\n";
  };
  std::string out = row("path", "type", "float32", "deployed", "");
  for (const MemoryEntry& e : layers) {
    const char* note = !e.bit_layer ? "" : e.deployed ? "bit layer, deployed" : "bit layer";
    out += row(e.path.empty() ? "<root>" : e.path, e.type, format_bytes(e.float_bytes),
               format_bytes(e.deployed_bytes), note);
  }
  out += row("total", "", format_bytes(total_float_bytes), format_bytes(total_deployed_bytes),
             absl::StrFormat("%.2fx smaller", compression_ratio()));
  return out;
}

}  // namespace bitlab
