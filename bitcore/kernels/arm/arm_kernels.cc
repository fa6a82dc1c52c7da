// The BitKernel wrappers around the ARM micro-kernels. Compiled for plain armv8-a, without the
// dot product or i8mm flags: they check the CPU, stage activations and only call a
// micro-kernel once the CPU is known to run it.
#include "bitcore/kernels/arm/arm_kernels.h"

#include <cstring>
#include <string>
#include <vector>

#include "bitcore/kernels/arm/blocked_t2c8_packing.h"
#include "bitcore/kernels/arm/ukernels.h"
#include "bitcore/kernels/cpu_features.h"
#include "bitcore/kernels/x86/blocked_args.h"
#include "bitcore/kernels/x86/blocked_t2_packing.h"

namespace bitlab {
namespace {

// Columns a block of both layouts: two int32x4 registers of outputs.
constexpr int64_t kColumnBlock = 8;

enum class Extension { kNone, kDotprod, kI8mm };

// Why a kernel needing `extension` cannot run here, or empty. Decided once per kernel.
std::string why_unsupported(Extension extension) {
  if (!internal::neon_ukernels_compiled_in()) {
    return "compiled without NEON (not an aarch64 build: use --config=neon)";
  }
  if (extension == Extension::kDotprod && !internal::neondot_ukernels_compiled_in()) {
    return "compiled without the dot product extension (the compiler lacks "
           "-march=armv8.2-a+dotprod)";
  }
  if (extension == Extension::kI8mm && !internal::neoni8mm_ukernels_compiled_in()) {
    return "compiled without the int8 matrix multiply extension (the compiler lacks "
           "-march=armv8.2-a+i8mm)";
  }
  const CpuFeatures& cpu = cpu_features();
  if (!cpu.neon) return "this CPU lacks NEON (HWCAP_ASIMD; has " + to_string(cpu) + ")";
  if (extension == Extension::kDotprod && !cpu.dotprod) {
    return "this CPU lacks the dot product extension (needs dotprod, HWCAP_ASIMDDP; has " +
           to_string(cpu) + ")";
  }
  if (extension == Extension::kI8mm && !cpu.i8mm) {
    return "this CPU lacks the int8 matrix multiply extension (needs i8mm, HWCAP2_I8MM; has " +
           to_string(cpu) + ")";
  }
  return "";
}

// One ARM kernel: which micro-kernels, over which layout (c4: 16 k a block, the x86 blocked t2
// layout with 8 columns; c8: 32 k a block, blocked_t2c8_packing.h).
struct ArmVariant {
  const char* name;
  const char* isa;
  int priority;
  Extension extension;
  bool c8;
  void (*int8)(const internal::Qd8BlockedArgs&);
  void (*float32)(const internal::F32BlockedArgs&);
};

class ArmKernel final : public BitKernel {
 public:
  explicit ArmKernel(const ArmVariant& v) : v_(v), unsupported_(why_unsupported(v.extension)) {}

  const char* name() const override { return v_.name; }
  const char* isa() const override { return v_.isa; }
  int priority() const override { return v_.priority; }
  std::string unsupported_reason() const override { return unsupported_; }
  std::string incompatibility(const BitQuantConfig&) const override { return ""; }

  int64_t n_block() const override { return kColumnBlock; }
  int64_t packed_weight_bytes(int64_t n, int64_t k) const override {
    return v_.c8 ? internal::blocked_t2c8_bytes(n, k)
                 : internal::blocked_t2_bytes(n, k, kColumnBlock);
  }
  void pack_weights(const uint8_t* t2, int64_t n, int64_t k, uint8_t* packed) const override {
    if (v_.c8) {
      internal::pack_blocked_t2c8(t2, n, k, packed);
    } else {
      internal::pack_blocked_t2(t2, n, k, kColumnBlock, packed);
    }
  }

  ActivationQuantizer activation_quantizer() const override {
    return {internal::f32_absmax_ukernel__neon, internal::f32_qd8_quantize_row_ukernel__neon};
  }

  void int8_accumulate(const Int8GemmArgs& args, int32_t* acc) const override {
    run_int8(args, 0, args.n, nullptr, acc);
  }
  void int8_gemm(const Int8GemmArgs& args, int64_t n_begin, int64_t n_end,
                 float* y) const override {
    run_int8(args, n_begin, n_end, y, nullptr);
  }

  void float32_gemm(const Float32GemmArgs& args, int64_t n_begin, int64_t n_end,
                    float* y) const override {
    if (args.m <= 0 || n_begin >= n_end) return;
    internal::F32BlockedArgs a = internal::make_f32_args(args, n_begin, n_end, y);
    // The micro-kernels read whole blocks of k: rows are copied, zero-padded, unless k fills
    // the blocks already (a zero weight times a stray NaN past the row would be NaN).
    const int64_t group = block_k();
    const int64_t padded = (args.k + group - 1) / group * group;
    a.k_blocks = padded / group;
    if (padded != args.k) {
      thread_local std::vector<float> staged;
      staged.assign(static_cast<size_t>(args.m * padded), 0.0f);
      for (int64_t r = 0; r < args.m; ++r) {
        std::memcpy(staged.data() + r * padded, args.x + r * args.k,
                    static_cast<size_t>(args.k) * sizeof(float));
      }
      a.x = staged.data();
    }
    a.k = padded;
    v_.float32(a);
  }

 private:
  int64_t block_k() const { return v_.c8 ? internal::kT2c8K : 16; }

  void run_int8(const Int8GemmArgs& args, int64_t n_begin, int64_t n_end, float* y,
                int32_t* acc) const {
    if (args.m <= 0 || n_begin >= n_end) return;
    v_.int8(internal::make_qd8_args(args, block_k(), n_begin, n_end, y, acc));
  }

  const ArmVariant v_;
  const std::string unsupported_;
};

}  // namespace

const BitKernel& arm_neon_kernel() {
  static const ArmKernel kernel({"arm_neon", "neon", 100, Extension::kNone, /*c8=*/false,
                                 internal::qd8_t2w_gemm_ukernel_4x8c4__neon,
                                 internal::f32_t2w_gemm_ukernel_2x8c4__neon});
  return kernel;
}

const BitKernel& arm_dotprod_kernel() {
  static const ArmKernel kernel({"arm_dotprod", "neon+dotprod", 200, Extension::kDotprod,
                                 /*c8=*/false, internal::qd8_t2w_gemm_ukernel_4x8c4__neondot,
                                 internal::f32_t2w_gemm_ukernel_2x8c4__neon});
  return kernel;
}

const BitKernel& arm_i8mm_kernel() {
  static const ArmKernel kernel({"arm_i8mm", "neon+i8mm", 300, Extension::kI8mm, /*c8=*/true,
                                 internal::qd8_t2w_gemm_ukernel_4x8c8__neoni8mm,
                                 internal::f32_t2w_gemm_ukernel_2x8c8__neon});
  return kernel;
}

}  // namespace bitlab
