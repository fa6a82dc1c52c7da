// What this CPU can run, read once: on x86-64 with cpuid (and xgetbv, so a feature the OS does
// not save registers for counts as missing), on aarch64 Linux from the kernel's hardware
// capabilities (getauxval: HWCAP_ASIMD, HWCAP_ASIMDDP, HWCAP2_I8MM), which are what the kernel
// lets user space run. This is the third gate a kernel backend passes: built with
// --config, compiled in by a compiler that knows the ISA, and supported by this CPU.
//
// Example:
//   if (bitlab::cpu_features().avx512vnni) { ... }
#ifndef BITLAB_BITCORE_KERNELS_CPU_FEATURES_H_
#define BITLAB_BITCORE_KERNELS_CPU_FEATURES_H_

#include <string>

namespace bitlab {

struct CpuFeatures {
  bool avx2 = false;
  bool fma = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512vnni = false;
  bool avx512vbmi = false;  // vpermb / vpermi2b byte permutes (the t1 decode tables)
  bool avxvnni = false;     // the VEX-encoded 256-bit vpdpbusd (Alder Lake, Zen 5)
  bool neon = false;        // aarch64 Advanced SIMD (every Linux aarch64 CPU has it)
  bool dotprod = false;     // sdot / udot (Armv8.2 optional, Armv8.4 mandatory: Cortex-A55+)
  bool i8mm = false;        // smmla int8 matrix multiply (Armv8.6: Neoverse V1/N2, Apple M2+)
};

/// The features of the CPU this process runs on, detected on first call.
const CpuFeatures& cpu_features();

/// "avx2 fma avx512f ..." for the features present, or "none".
std::string to_string(const CpuFeatures& features);

}  // namespace bitlab

#endif  // BITLAB_BITCORE_KERNELS_CPU_FEATURES_H_
