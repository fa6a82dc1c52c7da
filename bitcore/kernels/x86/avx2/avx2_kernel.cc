// The BitKernel wrapper around the AVX2 micro-kernels. Compiled without AVX2 flags: it checks
// the CPU, owns the scratch memory, stages activations, and only calls into the micro-kernels
// once the CPU is known to support them.
#include "bitcore/kernels/x86/avx2/avx2_kernel.h"

#include <string>

#include "bitcore/kernels/cpu_features.h"
#include "bitcore/kernels/quantize_rows.h"
#include "bitcore/kernels/x86/aligned_buffer.h"
#include "bitcore/kernels/x86/avx2/ukernels.h"
#include "bitcore/kernels/x86/blocked_args.h"
#include "bitcore/kernels/x86/blocked_t2_packing.h"

namespace bitlab {
namespace {

// Columns a block of the packed layout: 8 int32 lanes of a ymm register.
constexpr int64_t kColumnBlock = 8;
// Batches below this run the matrix-vector path, which streams the weights once per 3 rows.
constexpr int64_t kMinGemmRows = 4;

// Per-thread scratch: decoded weight codes (int8 gemm) and activation tables (float32).
struct Scratch {
  internal::AlignedBuffer codes;
  internal::AlignedBuffer tables;
};

Scratch& thread_scratch() {
  thread_local Scratch scratch;
  return scratch;
}

std::string why_unsupported() {
  if (!internal::avx2_ukernels_compiled_in()) {
    return "compiled without AVX2 (the compiler lacks -mavx2 -mfma)";
  }
  const CpuFeatures& cpu = cpu_features();
  if (!(cpu.avx2 && cpu.fma)) {
    return "this CPU lacks AVX2 (needs avx2 fma; has " + to_string(cpu) + ")";
  }
  return "";
}

class Avx2Kernel final : public BitKernel {
 public:
  const char* name() const override { return "x86_avx2"; }
  const char* isa() const override { return "avx2"; }
  int priority() const override { return 100; }

  // The build and the CPU do not change while the process runs: decided once.
  std::string unsupported_reason() const override { return unsupported_; }

  std::string incompatibility(const BitQuantConfig&) const override { return ""; }

  // Two column blocks: the micro-kernels' tiles are 16 columns wide.
  int64_t n_block() const override { return 2 * kColumnBlock; }
  int64_t packed_weight_bytes(int64_t n, int64_t k) const override {
    return internal::blocked_t2_bytes(n, k, kColumnBlock);
  }
  void pack_weights(const uint8_t* t2, int64_t n, int64_t k, uint8_t* packed) const override {
    internal::pack_blocked_t2(t2, n, k, kColumnBlock, packed);
  }

  ActivationQuantizer activation_quantizer() const override {
    return {internal::f32_absmax_ukernel__avx2, internal::f32_qd8_quantize_row_ukernel__avx2};
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
    const size_t floats =
        static_cast<size_t>(internal::kAvx2F32ScratchFloatsPerKBlock * a.k_blocks);
    a.scratch = static_cast<float*>(thread_scratch().tables.get(floats * sizeof(float)));
    internal::f32_t2w_gemm_ukernel_4x16__avx2(a);
  }

 private:
  void run_int8(const Int8GemmArgs& args, int64_t n_begin, int64_t n_end, float* y,
                int32_t* acc) const {
    if (args.m <= 0 || n_begin >= n_end) return;
    internal::Qd8BlockedArgs a = internal::make_qd8_args(args, 16, n_begin, n_end, y, acc);
    if (args.m < kMinGemmRows) {
      internal::qd8_t2w_gemv_ukernel_3x16c4__avx2(a);
    } else {
      a.scratch = static_cast<uint8_t*>(thread_scratch().codes.get(
          static_cast<size_t>(internal::kAvx2GemmScratchPerKBlock * a.k_blocks)));
      internal::qd8_t2w_gemm_ukernel_4x16c4__avx2(a);
    }
  }

  const std::string unsupported_ = why_unsupported();
};

}  // namespace

const BitKernel& avx2_kernel() {
  static const Avx2Kernel kernel;
  return kernel;
}

}  // namespace bitlab
