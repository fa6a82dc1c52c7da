// The BitKernel wrapper around the AVX512-VNNI micro-kernels. Compiled without AVX-512 flags:
// it checks the CPU, owns the scratch memory, stages activations, and only calls into the
// micro-kernels once the CPU is known to support them.
#include "bitcore/kernels/x86/avx512vnni/avx512vnni_kernel.h"

#include <string>

#include "bitcore/kernels/cpu_features.h"
#include "bitcore/kernels/quantize_rows.h"
#include "bitcore/kernels/x86/aligned_buffer.h"
#include "bitcore/kernels/x86/avx512vnni/ukernels.h"
#include "bitcore/kernels/x86/blocked_args.h"
#include "bitcore/kernels/x86/blocked_t1_packing.h"
#include "bitcore/kernels/x86/blocked_t2_packing.h"

namespace bitlab {
namespace {

constexpr int64_t kColumnBlock = 16;
// Batches below this run the matrix-vector path, which streams the weights once.
constexpr int64_t kMinGemmRows = 4;

// Per-thread decoded weight codes and partial sums of the matrix-matrix path.
internal::AlignedBuffer& thread_gemm_scratch() {
  thread_local internal::AlignedBuffer buffer;
  return buffer;
}

// Which packed weights the kernel reads: 2-bit (all batches, both activation types) or
// base-3 1.6-bit (int8 activations, matrix-vector only; 20% fewer bytes to stream).
enum class Layout { kT2, kT1 };

std::string why_unsupported(Layout layout) {
  if (!internal::avx512vnni_ukernels_compiled_in() ||
      (layout == Layout::kT1 && !internal::avx512vbmi_ukernels_compiled_in())) {
    return "compiled without AVX512-VNNI/VBMI (the compiler lacks -mavx512vnni or -mavx512vbmi)";
  }
  const CpuFeatures& cpu = cpu_features();
  const bool vnni = cpu.avx512f && cpu.avx512bw && cpu.avx512vl && cpu.avx512vnni;
  if (!vnni || (layout == Layout::kT1 && !cpu.avx512vbmi)) {
    return std::string("this CPU lacks ") +
           (layout == Layout::kT2 ? "AVX512-VNNI (needs avx512f avx512bw avx512vl avx512vnni"
                                  : "AVX512-VNNI or VBMI (needs avx512f avx512bw avx512vl "
                                    "avx512vnni avx512vbmi") +
           "; has " + to_string(cpu) + ")";
  }
  return "";
}

class Avx512VnniKernel final : public BitKernel {
 public:
  explicit Avx512VnniKernel(Layout layout)
      : layout_(layout), unsupported_(why_unsupported(layout)) {}

  const char* name() const override {
    return layout_ == Layout::kT2 ? "x86_avx512vnni" : "x86_avx512vnni_t1";
  }
  const char* isa() const override {
    return layout_ == Layout::kT2 ? "avx512vnni" : "avx512vnni+vbmi";
  }
  // The t1 kernel only wins once weights stream from DRAM, which the registry cannot know, so
  // it is chosen by name (BITLAB_KERNEL=x86_avx512vnni_t1), below the t2 kernel.
  int priority() const override { return layout_ == Layout::kT2 ? 200 : 150; }

  // The build and the CPU do not change while the process runs: decided once.
  std::string unsupported_reason() const override { return unsupported_; }

  std::string incompatibility(const BitQuantConfig& config) const override {
    if (layout_ == Layout::kT1 && config.activation_dtype != ActivationDtype::kInt8) {
      return "the t1 kernel implements int8 activations only";
    }
    return "";
  }

  int64_t n_block() const override { return 2 * kColumnBlock; }
  int64_t packed_weight_bytes(int64_t n, int64_t k) const override {
    return layout_ == Layout::kT2 ? internal::blocked_t2_bytes(n, k, kColumnBlock)
                                  : internal::blocked_t1_bytes(n, k);
  }
  void pack_weights(const uint8_t* t2, int64_t n, int64_t k, uint8_t* packed) const override {
    if (layout_ == Layout::kT2) {
      internal::pack_blocked_t2(t2, n, k, kColumnBlock, packed);
    } else {
      internal::pack_blocked_t1(t2, n, k, packed);
    }
  }

  ActivationQuantizer activation_quantizer() const override {
    return {internal::f32_absmax_ukernel__avx512, internal::f32_qd8_quantize_row_ukernel__avx512};
  }

  void int8_accumulate(const Int8GemmArgs& args, int32_t* acc) const override {
    run(args, 0, args.n, nullptr, acc);
  }
  void int8_gemm(const Int8GemmArgs& args, int64_t n_begin, int64_t n_end,
                 float* y) const override {
    run(args, n_begin, n_end, y, nullptr);
  }
  void float32_gemm(const Float32GemmArgs& args, int64_t n_begin, int64_t n_end,
                    float* y) const override {
    if (args.m <= 0 || n_begin >= n_end) return;
    internal::f32_t2w_gemm_ukernel_4x32__avx512f(internal::make_f32_args(args, n_begin, n_end, y));
  }

 private:
  void run(const Int8GemmArgs& args, int64_t n_begin, int64_t n_end, float* y, int32_t* acc) const {
    if (args.m <= 0 || n_begin >= n_end) return;
    const int64_t k_group = layout_ == Layout::kT2 ? 16 : 20;  // k per weight block
    internal::Qd8BlockedArgs a = internal::make_qd8_args(args, k_group, n_begin, n_end, y, acc);
    if (layout_ == Layout::kT1) {
      internal::qd8_t1w_gemv_ukernel_1x16c4__avx512vnni(a);
    } else if (args.m < kMinGemmRows && a.k_blocks <= internal::kMaxGemvKBlocks) {
      internal::qd8_t2w_gemv_ukernel_2x32c4__avx512vnni(a);
    } else {
      a.scratch = static_cast<uint8_t*>(thread_gemm_scratch().get(
          static_cast<size_t>(internal::gemm_scratch_bytes(args.m, a.k_blocks))));
      internal::qd8_t2w_gemm_ukernel_8x32c4__avx512vnni(a);
    }
  }

  const Layout layout_;
  const std::string unsupported_;
};

}  // namespace

const BitKernel& avx512vnni_kernel() {
  static const Avx512VnniKernel kernel(Layout::kT2);
  return kernel;
}

const BitKernel& avx512vnni_t1_kernel() {
  static const Avx512VnniKernel kernel(Layout::kT1);
  return kernel;
}

}  // namespace bitlab
