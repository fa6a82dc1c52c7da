#include "bitcore/kernel_registry.h"

#include <algorithm>
#include <cstdlib>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "bitcore/errors.h"
#include "bitcore/kernels/reference/reference_kernel.h"

namespace bitlab {
namespace {

using ::testing::HasSubstr;

// A kernel with chosen gates, for exercising selection. Its products delegate to the
// reference kernel; selection never runs them.
class GatedKernel final : public BitKernel {
 public:
  GatedKernel(const char* name, int priority, std::string unsupported, bool int8_only)
      : name_(name),
        priority_(priority),
        unsupported_(std::move(unsupported)),
        int8_only_(int8_only) {}
  const char* name() const override { return name_; }
  const char* isa() const override { return "test"; }
  int priority() const override { return priority_; }
  std::string unsupported_reason() const override { return unsupported_; }
  std::string incompatibility(const BitQuantConfig& config) const override {
    return int8_only_ && config.activation_dtype != ActivationDtype::kInt8
               ? "float32 activations are not implemented"
               : "";
  }
  int64_t n_block() const override { return 1; }
  int64_t packed_weight_bytes(int64_t n, int64_t k) const override {
    return reference_kernel().packed_weight_bytes(n, k);
  }
  void pack_weights(const uint8_t* t2, int64_t n, int64_t k, uint8_t* packed) const override {
    reference_kernel().pack_weights(t2, n, k, packed);
  }
  ActivationQuantizer activation_quantizer() const override {
    return reference_kernel().activation_quantizer();
  }
  void int8_accumulate(const Int8GemmArgs& args, int32_t* acc) const override {
    reference_kernel().int8_accumulate(args, acc);
  }
  void int8_gemm(const Int8GemmArgs& args, int64_t begin, int64_t end, float* y) const override {
    reference_kernel().int8_gemm(args, begin, end, y);
  }
  void float32_gemm(const Float32GemmArgs& args, int64_t begin, int64_t end,
                    float* y) const override {
    reference_kernel().float32_gemm(args, begin, end, y);
  }

 private:
  const char* name_;
  int priority_;
  std::string unsupported_;
  bool int8_only_;
};

class KernelSelectionTest : public ::testing::Test {
 protected:
  // Sorted by priority, as the registry keeps them.
  GatedKernel missing_isa_{"future_isa", 300, "this CPU lacks avx1024", false};
  GatedKernel int8_only_{"fast_int8", 200, "", true};
  GatedKernel general_{"general", 100, "", false};
  std::vector<const BitKernel*> kernels_{&missing_isa_, &int8_only_, &general_,
                                         &reference_kernel()};
};

TEST_F(KernelSelectionTest, HighestPrioritySupportedCompatibleKernelWins) {
  // future_isa outranks everything but cannot run; fast_int8 wins for int8 configs only.
  EXPECT_STREQ(
      internal::select_kernel(kernels_, BitQuantConfig::from_string("ai8pc_wpt"), nullptr).name(),
      "fast_int8");
  EXPECT_STREQ(
      internal::select_kernel(kernels_, BitQuantConfig::from_string("af32_wpt"), nullptr).name(),
      "general");
}

TEST_F(KernelSelectionTest, OverrideForcesAKernel) {
  const BitQuantConfig config = BitQuantConfig::from_string("ai8pc_wpc");
  EXPECT_STREQ(internal::select_kernel(kernels_, config, "reference").name(), "reference");
  EXPECT_STREQ(internal::select_kernel(kernels_, config, "general").name(), "general");
}

TEST_F(KernelSelectionTest, OverrideErrorsSayWhyAndListKernels) {
  const BitQuantConfig f32 = BitQuantConfig::from_string("af32_wpt");
  try {
    internal::select_kernel(kernels_, f32, "nope");
    FAIL() << "expected KernelNotFoundError";
  } catch (const KernelNotFoundError& e) {
    EXPECT_THAT(e.what(), HasSubstr("no kernel named \"nope\" (from BITLAB_KERNEL)"));
    EXPECT_THAT(e.what(), HasSubstr("built kernels: future_isa (test), fast_int8 (test), "
                                    "general (test), reference (scalar)"));
    EXPECT_THAT(e.what(), HasSubstr("runnable on this CPU: fast_int8, general, reference"));
  }
  try {
    internal::select_kernel(kernels_, f32, "future_isa");
    FAIL() << "expected KernelNotFoundError";
  } catch (const KernelNotFoundError& e) {
    EXPECT_THAT(e.what(), HasSubstr("kernel \"future_isa\" (from BITLAB_KERNEL) cannot run "
                                    "here: this CPU lacks avx1024"));
  }
  try {
    internal::select_kernel(kernels_, f32, "fast_int8");
    FAIL() << "expected KernelNotFoundError";
  } catch (const KernelNotFoundError& e) {
    EXPECT_THAT(e.what(), HasSubstr("does not implement af32_wpt: float32 activations are not "
                                    "implemented"));
  }
}

TEST_F(KernelSelectionTest, NoCandidateIsAnError) {
  std::vector<const BitKernel*> only_int8 = {&missing_isa_, &int8_only_};
  EXPECT_THROW(internal::select_kernel(only_int8, BitQuantConfig::from_string("af32_wpc"), nullptr),
               KernelNotFoundError);
}

TEST_F(KernelSelectionTest, ExplainSaysWhatRunsWhatFitsAndWhyTheWinnerWon) {
  const std::string text =
      internal::explain_selection(kernels_, BitQuantConfig::from_string("af32_wpt"), nullptr);
  EXPECT_THAT(text, HasSubstr("Kernel selection for af32_wpt"));
  EXPECT_THAT(text, HasSubstr("CPU features: "));
  EXPECT_THAT(text, HasSubstr("BITLAB_KERNEL: (not set)"));
  EXPECT_THAT(text, HasSubstr("future_isa  isa=test  priority=300  cannot run here: this CPU "
                              "lacks avx1024; compatible"));
  EXPECT_THAT(text, HasSubstr("fast_int8  isa=test  priority=200  runs here; incompatible: "
                              "float32 activations are not implemented"));
  EXPECT_THAT(text, HasSubstr("Chosen: general, the highest priority of 2 kernel(s)"));

  const std::string forced =
      internal::explain_selection(kernels_, BitQuantConfig::from_string("af32_wpt"), "reference");
  EXPECT_THAT(forced, HasSubstr("BITLAB_KERNEL: reference"));
  EXPECT_THAT(forced, HasSubstr("Chosen: reference, forced by BITLAB_KERNEL"));

  const std::string broken =
      internal::explain_selection(kernels_, BitQuantConfig::from_string("af32_wpt"), "nope");
  EXPECT_THAT(broken, HasSubstr("Chosen: none; no kernel named \"nope\""));
}

// The process-wide registry, over the kernels this binary was built with.
class KernelRegistryTest : public ::testing::Test {
 protected:
  void TearDown() override { unsetenv(kKernelOverrideEnv); }
};

TEST_F(KernelRegistryTest, BuiltKernelsAreSortedAndIncludeReference) {
  const auto& kernels = KernelRegistry::built_kernels();
  ASSERT_FALSE(kernels.empty());
  EXPECT_TRUE(std::is_sorted(
      kernels.begin(), kernels.end(),
      [](const BitKernel* a, const BitKernel* b) { return a->priority() > b->priority(); }));
  EXPECT_EQ(kernels.back(), &reference_kernel());
  const auto available = KernelRegistry::list_available_kernels();
  EXPECT_NE(std::find(available.begin(), available.end(), "reference"), available.end());
}

TEST_F(KernelRegistryTest, SelectionPicksTheBestCandidateForEveryConfig) {
  for (const char* s :
       {"ai8pt_wpt", "ai8pt_wpc", "ai8pc_wpt", "ai8pc_wpc", "af32_wpt", "af32_wpc"}) {
    const BitQuantConfig config = BitQuantConfig::from_string(s);
    const BitKernel& chosen = KernelRegistry::get_kernel_for_config(config);
    EXPECT_TRUE(chosen.is_supported()) << s;
    EXPECT_TRUE(chosen.is_compatible_with(config)) << s;
    for (const BitKernel* other : KernelRegistry::built_kernels()) {
      // CPU selection ranks the CPU kernels only.
      if (other->device() == KernelDevice::kCpu && other->is_supported() &&
          other->is_compatible_with(config)) {
        EXPECT_LE(other->priority(), chosen.priority()) << s << ": " << other->name();
      }
    }
    EXPECT_THAT(KernelRegistry::explain(config),
                HasSubstr(std::string("Chosen: ") + chosen.name()));
  }
}

TEST_F(KernelRegistryTest, LookupByName) {
  const BitQuantConfig config;
  EXPECT_EQ(&KernelRegistry::get_kernel_by_name("reference", config), &reference_kernel());
  try {
    KernelRegistry::get_kernel_by_name("avx9000", config);
    FAIL() << "expected KernelNotFoundError";
  } catch (const KernelNotFoundError& e) {
    EXPECT_THAT(e.what(), HasSubstr("no kernel named \"avx9000\"; built kernels: "));
    EXPECT_THAT(e.what(), HasSubstr("reference (scalar)"));
  }
}

TEST_F(KernelRegistryTest, EnvironmentOverride) {
  const BitQuantConfig config;
  setenv(kKernelOverrideEnv, "reference", 1);
  EXPECT_EQ(&KernelRegistry::get_kernel_for_config(config), &reference_kernel());
  EXPECT_THAT(KernelRegistry::explain(config), HasSubstr("Chosen: reference, forced by"));

  setenv(kKernelOverrideEnv, "does_not_exist", 1);
  try {
    KernelRegistry::get_kernel_for_config(config);
    FAIL() << "expected KernelNotFoundError";
  } catch (const KernelNotFoundError& e) {
    EXPECT_THAT(e.what(), HasSubstr("no kernel named \"does_not_exist\" (from BITLAB_KERNEL)"));
    EXPECT_THAT(e.what(), HasSubstr("reference"));
  }

  setenv(kKernelOverrideEnv, "", 1);  // empty means unset
  EXPECT_NO_THROW(KernelRegistry::get_kernel_for_config(config));
}

// The CUDA kernel if this binary was built with --config=cuda, else null.
const BitKernel* built_cuda_kernel() {
  for (const BitKernel* kernel : KernelRegistry::built_kernels()) {
    if (kernel->device() == KernelDevice::kCuda) return kernel;
  }
  return nullptr;
}

TEST_F(KernelRegistryTest, CpuSelectionNeverReturnsACudaKernel) {
  for (const char* s :
       {"ai8pt_wpt", "ai8pt_wpc", "ai8pc_wpt", "ai8pc_wpc", "af32_wpt", "af32_wpc"}) {
    const BitQuantConfig config = BitQuantConfig::from_string(s);
    EXPECT_EQ(KernelRegistry::get_kernel_for_config(config).device(), KernelDevice::kCpu) << s;
    EXPECT_EQ(&KernelRegistry::get_kernel_for_config(config, KernelDevice::kCpu),
              &KernelRegistry::get_kernel_for_config(config))
        << s;
  }
}

TEST_F(KernelRegistryTest, CudaSelectionNeedsACudaBuild) {
  if (built_cuda_kernel() != nullptr) GTEST_SKIP() << "built with --config=cuda";
  try {
    KernelRegistry::get_kernel_for_config(BitQuantConfig(), KernelDevice::kCuda);
    FAIL() << "expected KernelNotFoundError";
  } catch (const KernelNotFoundError& e) {
    EXPECT_THAT(e.what(), HasSubstr("built without --config=cuda"));
  }
  EXPECT_THAT(KernelRegistry::explain(BitQuantConfig()),
              ::testing::Not(HasSubstr("for CUDA tensors")));
}

TEST_F(KernelRegistryTest, CudaKernelIsListedAndSelectedForCudaTensorsOnly) {
  const BitKernel* cuda = built_cuda_kernel();
  if (cuda == nullptr) GTEST_SKIP() << "built without --config=cuda";
  EXPECT_STREQ(cuda->name(), "cuda");
  const BitQuantConfig int8 = BitQuantConfig::from_string("ai8pc_wpc");
  const BitQuantConfig f32 = BitQuantConfig::from_string("af32_wpc");
  EXPECT_TRUE(cuda->is_compatible_with(int8));
  EXPECT_THAT(cuda->incompatibility(f32), HasSubstr("float32 activations are not implemented"));

  const std::string text = KernelRegistry::explain(int8);
  EXPECT_THAT(text, HasSubstr("Built kernels for CUDA tensors, highest priority first:\n"
                              "  cuda  isa=cuda sm_80+"));
  const std::string unsupported = cuda->unsupported_reason();
  if (unsupported.empty()) {
    EXPECT_EQ(&KernelRegistry::get_kernel_for_config(int8, KernelDevice::kCuda), cuda);
    EXPECT_THAT(text, HasSubstr("Chosen for CUDA tensors: cuda"));
    EXPECT_THROW(KernelRegistry::get_kernel_for_config(f32, KernelDevice::kCuda),
                 KernelNotFoundError);
  } else {
    // No usable GPU (as on CI machines): the reason names what is missing.
    EXPECT_THAT(unsupported,
                ::testing::AnyOf(HasSubstr("no CUDA device"), HasSubstr("compute capability")));
    EXPECT_THAT(text, HasSubstr("cannot run here: " + unsupported));
    EXPECT_THAT(text, HasSubstr("Chosen for CUDA tensors: none"));
    EXPECT_THROW(KernelRegistry::get_kernel_for_config(int8, KernelDevice::kCuda),
                 KernelNotFoundError);
  }
}

TEST_F(KernelRegistryTest, OverrideAppliesToItsKernelsDeviceOnly) {
  const BitKernel* cuda = built_cuda_kernel();
  if (cuda == nullptr) GTEST_SKIP() << "built without --config=cuda";
  const BitQuantConfig config = BitQuantConfig::from_string("ai8pc_wpc");
  const BitKernel& cpu_choice = KernelRegistry::get_kernel_for_config(config);
  setenv(kKernelOverrideEnv, "cuda", 1);  // a CUDA kernel: CPU selection ignores it
  EXPECT_EQ(&KernelRegistry::get_kernel_for_config(config), &cpu_choice);
  setenv(kKernelOverrideEnv, "reference", 1);  // a CPU kernel: CUDA selection ignores it
  if (cuda->is_supported()) {
    EXPECT_EQ(&KernelRegistry::get_kernel_for_config(config, KernelDevice::kCuda), cuda);
  }
  EXPECT_THAT(KernelRegistry::explain(config), HasSubstr("Chosen: reference, forced by"));
}

TEST_F(KernelRegistryTest, InvalidConfigIsRejected) {
  BitQuantConfig config;
  config.eps = -1.0f;
  EXPECT_THROW(KernelRegistry::get_kernel_for_config(config), QuantizationError);
}

}  // namespace
}  // namespace bitlab
