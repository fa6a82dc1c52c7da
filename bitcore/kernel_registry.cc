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
  std::stable_sort(kernels.begin(), kernels.end(), [](const BitKernel* a, const BitKernel* b) {
    return a->priority() > b->priority();
  });
  return kernels;
}

std::string describe_kernels(const std::vector<const BitKernel*>& kernels) {
  std::vector<std::string> built;
  std::vector<std::string> here;
  for (const BitKernel* k : kernels) {
    built.push_back(absl::StrCat(k->name(), " (", k->isa(), ")"));
    if (k->is_supported()) here.push_back(k->name());
  }
  return absl::StrCat("built kernels: ", absl::StrJoin(built, ", "),
                      "; runnable on this CPU: ", absl::StrJoin(here, ", "));
}

const char* kernel_override() {
  const char* name = std::getenv(kKernelOverrideEnv);
  return name != nullptr && name[0] != '\0' ? name : nullptr;
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
  absl::StrAppend(&out, "Built kernels, highest priority first:\n");
  int candidates = 0;
  for (const BitKernel* kernel : kernels) {
    const std::string unsupported = kernel->unsupported_reason();
    const std::string incompatible = kernel->incompatibility(config);
    absl::StrAppend(&out, "  ", kernel->name(), "  isa=", kernel->isa(),
                    "  priority=", kernel->priority(), "  ",
                    unsupported.empty() ? "runs here" : "cannot run here: " + unsupported, "; ",
                    incompatible.empty() ? "compatible" : "incompatible: " + incompatible, "\n");
    if (unsupported.empty() && incompatible.empty()) ++candidates;
  }
  try {
    const BitKernel& chosen = select_kernel(kernels, config, override_name);
    if (override_name != nullptr) {
      absl::StrAppend(&out, "Chosen: ", chosen.name(), ", forced by ", kKernelOverrideEnv, "\n");
    } else {
      absl::StrAppend(&out, "Chosen: ", chosen.name(), ", the highest priority of ", candidates,
                      " kernel(s) that run here and implement ", config.to_string(), "\n");
    }
  } catch (const KernelNotFoundError& e) {
    absl::StrAppend(&out, "Chosen: none; ", e.what(), "\n");
  }
  return out;
}

}  // namespace internal

const std::vector<const BitKernel*>& KernelRegistry::built_kernels() {
  static const std::vector<const BitKernel*> kernels = collect_built_kernels();
  return kernels;
}

const BitKernel& KernelRegistry::get_kernel_for_config(const BitQuantConfig& config) {
  return internal::select_kernel(built_kernels(), config, kernel_override());
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
  return internal::explain_selection(built_kernels(), config, kernel_override());
}

}  // namespace bitlab
