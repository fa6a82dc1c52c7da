// KernelRegistry: which ternary kernel runs a given quantization config on this machine.
//
// A kernel reaches the registry through three gates, so one binary can carry several backends
// and pick at run time:
//   1. built:       its backend was selected at build time (the default build carries every
//                   backend for the target architecture; --config=avx2|avx512|cuda|neon narrow
//                   or extend that), so it is in built_kernels();
//   2. compiled in: the compiler knew the ISA when it compiled the kernel's file;
//   3. supported:   this CPU has the ISA (cpuid, read once).
// Gates 2 and 3 are the kernel's unsupported_reason(). Among kernels that pass all three and
// are compatible with the config, the highest priority wins; the reference kernel passes
// everything and has the lowest priority, so selection never fails.
//
// Selection is cheap but a layer does it once, when it prepares its weights. The environment
// variable BITLAB_KERNEL=<name> forces a kernel (tests and benchmarks use it); a name that is
// unknown, cannot run here or does not fit the config throws KernelNotFoundError.
//
// Example:
//   const bitlab::BitKernel& kernel = bitlab::KernelRegistry::get_kernel_for_config(config);
//   std::cout << bitlab::KernelRegistry::explain(config);
#ifndef BITLAB_BITCORE_KERNEL_REGISTRY_H_
#define BITLAB_BITCORE_KERNEL_REGISTRY_H_

#include <string>
#include <string_view>
#include <vector>

#include "bitcore/kernels/bit_kernel.h"
#include "bitcore/quant_config.h"

namespace bitlab {

/// The environment variable that forces a kernel by name.
inline constexpr char kKernelOverrideEnv[] = "BITLAB_KERNEL";

class KernelRegistry {
 public:
  /// Every kernel built into this binary, supported here or not, highest priority first.
  static const std::vector<const BitKernel*>& built_kernels();

  /// The kernel for `config`: BITLAB_KERNEL's if set, else the highest-priority kernel that
  /// runs here and implements `config`.
  static const BitKernel& get_kernel_for_config(const BitQuantConfig& config);

  /// The kernel named `name`; throws KernelNotFoundError (listing the kernels that exist and
  /// which run here) if none is built, it cannot run here, or it does not implement `config`.
  static const BitKernel& get_kernel_by_name(std::string_view name, const BitQuantConfig& config);

  /// Names of the built kernels that run on this CPU, highest priority first.
  static std::vector<std::string> list_available_kernels();

  /// A human-readable account of selection for `config`: the CPU's features, the override,
  /// each built kernel with whether it runs here and fits the config (and why not), and why
  /// the winner won.
  static std::string explain(const BitQuantConfig& config);
};

namespace internal {

// The selection logic over an explicit kernel list (sorted by priority, highest first) and
// override (null for none), so tests can exercise it with kernels of their own.
const BitKernel& select_kernel(const std::vector<const BitKernel*>& kernels,
                               const BitQuantConfig& config, const char* override_name);
const BitKernel& find_kernel(const std::vector<const BitKernel*>& kernels, std::string_view name,
                             const BitQuantConfig& config, const char* override_name);
std::string explain_selection(const std::vector<const BitKernel*>& kernels,
                              const BitQuantConfig& config, const char* override_name);

}  // namespace internal

}  // namespace bitlab

#endif  // BITLAB_BITCORE_KERNEL_REGISTRY_H_
