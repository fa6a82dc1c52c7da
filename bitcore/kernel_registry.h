// KernelRegistry: which ternary kernel runs a given quantization config on this machine.
//
// A kernel reaches the registry through three gates, so one binary can carry several backends
// and pick at run time:
//   1. built:       its backend was selected at build time (the default build carries every
//                   backend for the target architecture; --config=avx2|avx512|cuda|neon narrow
//                   or extend that), so it is in built_kernels();
//   2. compiled in: the compiler knew the ISA when it compiled the kernel's file;
//   3. supported:   this CPU has the ISA (cpuid, read once), or, for a CUDA kernel, this
//                   process sees a GPU it can run on.
// Gates 2 and 3 are the kernel's unsupported_reason(). Selection is per device
// (BitKernel::device()): CPU tensors choose among the CPU kernels, CUDA tensors among the CUDA
// kernels, so a CUDA build changes nothing for CPU users. Among the kernels of the device that
// pass all three gates and are compatible with the config, the highest priority wins; on the
// CPU the reference kernel passes everything and has the lowest priority, so CPU selection
// never fails.
//
// Selection is cheap but a layer does it once, when it prepares its weights. The environment
// variable BITLAB_KERNEL=<name> forces a kernel (tests and benchmarks use it). It applies to the
// device its kernel computes on only: BITLAB_KERNEL=reference forces the reference kernel for
// CPU tensors and leaves CUDA selection alone, and BITLAB_KERNEL=cuda leaves CPU selection
// alone. A name that is unknown, cannot run here or does not fit the config throws
// KernelNotFoundError.
//
// Example:
//   const bitlab::BitKernel& kernel = bitlab::KernelRegistry::get_kernel_for_config(config);
//   const bitlab::BitKernel& gpu =
//       bitlab::KernelRegistry::get_kernel_for_config(config, bitlab::KernelDevice::kCuda);
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
  /// Every kernel built into this binary, of every device, supported here or not, highest
  /// priority first.
  static const std::vector<const BitKernel*>& built_kernels();

  /// The CPU kernel for `config`: BITLAB_KERNEL's if set to a CPU kernel, else the
  /// highest-priority CPU kernel that runs here and implements `config`. Never a CUDA kernel.
  static const BitKernel& get_kernel_for_config(const BitQuantConfig& config);

  /// The same among the kernels of `device`. For kCuda it throws KernelNotFoundError when no
  /// CUDA kernel is built (a build without --config=cuda), none can run here (no GPU, or one
  /// too old), or none implements `config` (float32 activations).
  static const BitKernel& get_kernel_for_config(const BitQuantConfig& config, KernelDevice device);

  /// The kernel named `name`, of any device; throws KernelNotFoundError (listing the kernels
  /// that exist and which run here) if none is built, it cannot run here, or it does not
  /// implement `config`.
  static const BitKernel& get_kernel_by_name(std::string_view name, const BitQuantConfig& config);

  /// Names of the built kernels that run here (CPU kernels this CPU supports, CUDA kernels
  /// this process has a GPU for), highest priority first.
  static std::vector<std::string> list_available_kernels();

  /// A human-readable account of selection for `config`: the CPU's features, the override,
  /// each built CPU kernel with whether it runs here and fits the config (and why not), and
  /// why the winner won; then, when CUDA kernels are built, the same for CUDA tensors.
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
