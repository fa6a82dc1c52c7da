#include "bitcore/kernel_registry.h"

#include <algorithm>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bitcore/errors.h"
#include "bitcore/kernels/cpu_features.h"
#include "bitcore/kernels/reference/reference_kernel.h"
#ifdef BITLAB_BUILD_X86_AVX2
#include "bitcore/kernels/x86/avx2/avx2_kernel.h"
#endif
#ifdef BITLAB_BUILD_X86_AVX512VNNI
#include "bitcore/kernels/x86/avx512vnni/avx512vnni_kernel.h"
#endif
#ifdef BITLAB_BUILD_ARM
#include "bitcore/kernels/arm/arm_kernels.h"
#endif
#ifdef BITLAB_BUILD_CUDA
#include "bitcore/kernels/cuda/cuda_bit_kernel.h"
#endif

namespace bitlab {
namespace {

std::vector<const BitKernel*> collect_built_kernels() {
  // Gate 1: each backend library is linked in (and listed here) only when the build selects
  // it. The reference kernel is always built.
  std::vector<const BitKernel*> kernels = {&reference_kernel()};
#ifdef BITLAB_BUILD_X86_AVX2
  kernels.push_back(&avx2_kernel());
#endif
#ifdef BITLAB_BUILD_X86_AVX512VNNI
  kernels.push_back(&avx512vnni_kernel());
  kernels.push_back(&avx512vnni_t1_kernel());
#endif
#ifdef BITLAB_BUILD_ARM
  kernels.push_back(&arm_neon_kernel());
  kernels.push_back(&arm_dotprod_kernel());
  kernels.push_back(&arm_i8mm_kernel());
#endif
#ifdef BITLAB_BUILD_CUDA
  kernels.push_back(&cuda_kernel());
#endif
  std::stable_sort(kernels.begin(), kernels.end(), [](const BitKernel* a, const BitKernel* b) {
    return a->priority() > b->priority();
  });
  return kernels;
}

std::string describe_kernels(const std::vector<const BitKernel*>& kernels) {
  std::vector<std::string> built;
  std::vector<std::string> here;
  bool cpu_only = true;
  for (const BitKernel* k : kernels) {
    built.push_back(absl::StrCat(k->name(), " (", k->isa(), ")"));
    if (k->is_supported()) here.push_back(k->name());
    cpu_only = cpu_only && k->device() == KernelDevice::kCpu;
  }
  return absl::StrCat(
      "built kernels: ", absl::StrJoin(built, ", "),
      cpu_only ? "; runnable on this CPU: " : "; runnable here: ", absl::StrJoin(here, ", "));
}

// The built kernels of one device, highest priority first: what selection for it ranks.
const std::vector<const BitKernel*>& device_kernels(KernelDevice device) {
  auto of = [](KernelDevice d) {
    std::vector<const BitKernel*> kernels;
    for (const BitKernel* k : KernelRegistry::built_kernels()) {
      if (k->device() == d) kernels.push_back(k);
    }
    return kernels;
  };
  static const std::vector<const BitKernel*> cpu = of(KernelDevice::kCpu);
  static const std::vector<const BitKernel*> cuda = of(KernelDevice::kCuda);
  return device == KernelDevice::kCuda ? cuda : cpu;
}

// BITLAB_KERNEL as it applies to selection for `device`: null when unset or when it names a
// kernel of another device, so forcing a CPU kernel never breaks CUDA selection and vice
// versa. An unknown name stays, so that selection reports it.
const char* kernel_override(KernelDevice device) {
  const char* name = std::getenv(kKernelOverrideEnv);
  if (name == nullptr || name[0] == '\0') return nullptr;
  for (const BitKernel* k : KernelRegistry::built_kernels()) {
    if (k->device() != device && std::string_view(name) == k->name()) return nullptr;
  }
  return name;
}

// The per-kernel lines of explain() and its choice, for one device's kernels. `for_device` is
// empty for the CPU, else e.g. " for CUDA tensors".
void append_selection(std::string* out, const std::vector<const BitKernel*>& kernels,
                      const BitQuantConfig& config, const char* override_name,
                      const std::string& for_device) {
  absl::StrAppend(out, "Built kernels", for_device, ", highest priority first:\n");
  int candidates = 0;
  for (const BitKernel* kernel : kernels) {
    const std::string unsupported = kernel->unsupported_reason();
    const std::string incompatible = kernel->incompatibility(config);
    absl::StrAppend(out, "  ", kernel->name(), "  isa=", kernel->isa(),
                    "  priority=", kernel->priority(), "  ",
                    unsupported.empty() ? "runs here" : "cannot run here: " + unsupported, "; ",
                    incompatible.empty() ? "compatible" : "incompatible: " + incompatible, "\n");
    if (unsupported.empty() && incompatible.empty()) ++candidates;
  }
  try {
    const BitKernel& chosen = internal::select_kernel(kernels, config, override_name);
    if (override_name != nullptr) {
      absl::StrAppend(out, "Chosen", for_device, ": ", chosen.name(), ", forced by ",
                      kKernelOverrideEnv, "\n");
    } else {
      absl::StrAppend(out, "Chosen", for_device, ": ", chosen.name(), ", the highest priority of ",
                      candidates, " kernel(s) that run here and implement ", config.to_string(),
                      "\n");
    }
  } catch (const KernelNotFoundError& e) {
    absl::StrAppend(out, "Chosen", for_device, ": none; ", e.what(), "\n");
  }
}

}  // namespace

namespace internal {

const BitKernel& find_kernel(const std::vector<const BitKernel*>& kernels, std::string_view name,
                             const BitQuantConfig& config, const char* override_name) {
  config.validate();
  const std::string via_override =
      override_name != nullptr ? absl::StrCat(" (from ", kKernelOverrideEnv, ")") : "";
  for (const BitKernel* kernel : kernels) {
    if (name != kernel->name()) continue;
    const std::string unsupported = kernel->unsupported_reason();
    if (!unsupported.empty()) {
      throw KernelNotFoundError(absl::StrCat("kernel \"", std::string(name), "\"", via_override,
                                             " cannot run here: ", unsupported, "; ",
                                             describe_kernels(kernels)));
    }
    const std::string incompatible = kernel->incompatibility(config);
    if (!incompatible.empty()) {
      throw KernelNotFoundError(absl::StrCat("kernel \"", std::string(name), "\"", via_override,
                                             " does not implement ", config.to_string(), ": ",
                                             incompatible, "; ", describe_kernels(kernels)));
    }
    return *kernel;
  }
  throw KernelNotFoundError(absl::StrCat("no kernel named \"", std::string(name), "\"",
                                         via_override, "; ", describe_kernels(kernels)));
}

const BitKernel& select_kernel(const std::vector<const BitKernel*>& kernels,
                               const BitQuantConfig& config, const char* override_name) {
  config.validate();
  if (override_name != nullptr) return find_kernel(kernels, override_name, config, override_name);
  for (const BitKernel* kernel : kernels) {
    if (kernel->is_supported() && kernel->is_compatible_with(config)) return *kernel;
  }
  throw KernelNotFoundError(absl::StrCat("no kernel runs here and implements ", config.to_string(),
                                         "; ", describe_kernels(kernels)));
}

std::string explain_selection(const std::vector<const BitKernel*>& kernels,
                              const BitQuantConfig& config, const char* override_name) {
  config.validate();
  std::string out =
      absl::StrCat("Kernel selection for ", config.to_string(), " (eps ", config.eps, ")\n");
  absl::StrAppend(&out, "CPU features: ", to_string(cpu_features()), "\n");
  absl::StrAppend(&out, kKernelOverrideEnv, ": ",
                  override_name != nullptr ? override_name : "(not set)", "\n");
  append_selection(&out, kernels, config, override_name, "");
  return out;
}

}  // namespace internal

const std::vector<const BitKernel*>& KernelRegistry::built_kernels() {
  static const std::vector<const BitKernel*> kernels = collect_built_kernels();
  return kernels;
}

const BitKernel& KernelRegistry::get_kernel_for_config(const BitQuantConfig& config) {
  return get_kernel_for_config(config, KernelDevice::kCpu);
}

const BitKernel& KernelRegistry::get_kernel_for_config(const BitQuantConfig& config,
                                                       KernelDevice device) {
  const std::vector<const BitKernel*>& kernels = device_kernels(device);
  if (kernels.empty()) {
    // Only CUDA can have none: the reference kernel is always built.
    throw KernelNotFoundError(absl::StrCat("no ", to_string(device),
                                           " kernel is built into this binary (BitLab was "
                                           "built without --config=cuda)"));
  }
  return internal::select_kernel(kernels, config, kernel_override(device));
}

const BitKernel& KernelRegistry::get_kernel_by_name(std::string_view name,
                                                    const BitQuantConfig& config) {
  return internal::find_kernel(built_kernels(), name, config, nullptr);
}

std::vector<std::string> KernelRegistry::list_available_kernels() {
  std::vector<std::string> names;
  for (const BitKernel* kernel : built_kernels()) {
    if (kernel->is_supported()) names.push_back(kernel->name());
  }
  return names;
}

std::string KernelRegistry::explain(const BitQuantConfig& config) {
  std::string out = internal::explain_selection(device_kernels(KernelDevice::kCpu), config,
                                                kernel_override(KernelDevice::kCpu));
  const std::vector<const BitKernel*>& cuda = device_kernels(KernelDevice::kCuda);
  if (!cuda.empty()) {
    append_selection(&out, cuda, config, kernel_override(KernelDevice::kCuda), " for CUDA tensors");
  }
  return out;
}

}  // namespace bitlab
