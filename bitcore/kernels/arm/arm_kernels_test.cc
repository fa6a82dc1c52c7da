// The ARM kernels' gates, on whatever CPU qemu emulates (BUILD runs this on `-cpu max`,
// neoverse-n1 and cortex-a72): a kernel runs exactly when the CPU has its extension, says
// which one it lacks otherwise, the registry picks the best one this CPU runs and explains
// why, and forcing a kernel the CPU lacks fails naming the missing feature. Numerics are
// //bitcore/kernels:kernel_conformance_test's.
#include "bitcore/kernels/arm/arm_kernels.h"

#include <cstdio>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "bitcore/errors.h"
#include "bitcore/kernel_registry.h"
#include "bitcore/kernels/cpu_features.h"

namespace bitlab {
namespace {

using ::testing::HasSubstr;

TEST(ArmKernelsTest, EachKernelRunsExactlyWhenTheCpuHasItsExtension) {
  const CpuFeatures& cpu = cpu_features();
  std::printf("CPU features: %s\n", to_string(cpu).c_str());
  EXPECT_TRUE(cpu.neon);
  EXPECT_TRUE(arm_neon_kernel().is_supported()) << arm_neon_kernel().unsupported_reason();
  EXPECT_EQ(arm_dotprod_kernel().is_supported(), cpu.dotprod);
  EXPECT_EQ(arm_i8mm_kernel().is_supported(), cpu.i8mm);
  if (!cpu.dotprod) {
    EXPECT_THAT(arm_dotprod_kernel().unsupported_reason(),
                HasSubstr("this CPU lacks the dot product extension (needs dotprod, "
                          "HWCAP_ASIMDDP; has neon"));
  }
  if (!cpu.i8mm) {
    EXPECT_THAT(arm_i8mm_kernel().unsupported_reason(),
                HasSubstr("lacks the int8 matrix multiply extension (needs i8mm, HWCAP2_I8MM"));
  }
}

TEST(ArmKernelsTest, RegistryChoosesTheBestKernelThisCpuRunsAndSaysWhy) {
  const CpuFeatures& cpu = cpu_features();
  const std::string best = cpu.i8mm ? "arm_i8mm" : cpu.dotprod ? "arm_dotprod" : "arm_neon";
  for (const char* name : {"ai8pc_wpt", "ai8pt_wpc", "af32_wpt"}) {
    const BitQuantConfig config = BitQuantConfig::from_string(name);
    EXPECT_EQ(KernelRegistry::get_kernel_for_config(config).name(), best) << name;
  }
  const std::string explanation = KernelRegistry::explain(BitQuantConfig::from_string("ai8pc_wpt"));
  std::printf("%s", explanation.c_str());
  EXPECT_THAT(explanation, HasSubstr("Chosen: " + best + ", the highest priority of"));
  EXPECT_THAT(explanation, HasSubstr("arm_neon  isa=neon  priority=100  runs here"));
  if (!cpu.i8mm) {
    EXPECT_THAT(explanation, HasSubstr("arm_i8mm  isa=neon+i8mm  priority=300  cannot run here: "
                                       "this CPU lacks the int8 matrix multiply extension"));
  }
}

TEST(ArmKernelsTest, ForcingAKernelTheCpuLacksNamesTheMissingFeature) {
  const BitQuantConfig config = BitQuantConfig::from_string("ai8pc_wpt");
  if (cpu_features().i8mm) GTEST_SKIP() << "this CPU has i8mm: every ARM kernel runs here";
  try {
    KernelRegistry::get_kernel_by_name("arm_i8mm", config);
    FAIL() << "expected KernelNotFoundError";
  } catch (const KernelNotFoundError& e) {
    EXPECT_THAT(e.what(), HasSubstr("kernel \"arm_i8mm\" cannot run here: this CPU lacks the "
                                    "int8 matrix multiply extension (needs i8mm, HWCAP2_I8MM"));
  }
}

}  // namespace
}  // namespace bitlab
