// The arguments of the x86 micro-kernels over the blocked layouts (blocked_t2_packing.h,
// blocked_t1_packing.h), shared by the AVX2 and AVX512-VNNI backends, and the plain C++ that
// fills them from a BitKernel call (staging the activations on the way). Plain C++, no ISA
// flags: the micro-kernels see only these structs.
#ifndef BITLAB_BITCORE_KERNELS_X86_BLOCKED_ARGS_H_
#define BITLAB_BITCORE_KERNELS_X86_BLOCKED_ARGS_H_

#include <cstdint>

namespace bitlab {

// Declared, not included: the ISA-flagged micro-kernel files include this header, and should
// see no inline code from the rest of BitLab (see avx512vnni/ukernels.h).
struct Int8GemmArgs;
struct Float32GemmArgs;

namespace internal {

/// An int8 product over a blocked layout.
struct Qd8BlockedArgs {
  int64_t m = 0;              // rows
  int64_t k_blocks = 0;       // padded K / k per weight block (16 for t2, 20 for t1)
  const int8_t* x = nullptr;  // m rows, x_stride bytes apart, zero past K to the padded K
  int64_t x_stride = 0;
  const int32_t* row_sums = nullptr;  // sum of each x row (the offset trick subtracts it)
  const float* x_scale = nullptr;     // m scales, or 1 if !x_scale_per_row
  bool x_scale_per_row = false;
  const uint8_t* w = nullptr;      // the whole blocked weight matrix
  const float* w_scale = nullptr;  // n scales, or 1 if !w_scale_per_channel
  bool w_scale_per_channel = false;
  const float* bias = nullptr;  // n values, or null
  int64_t n = 0;                // all columns: the row stride of y and acc
  int64_t n_begin = 0;          // columns to compute, n_begin a multiple of the column block
  int64_t n_end = 0;
  float* y = nullptr;          // m x n outputs, or null
  int32_t* acc = nullptr;      // m x n exact accumulators instead of y, or null
  uint8_t* scratch = nullptr;  // for micro-kernels that decode weights: 64-byte aligned
};

/// A float32-activation product over the blocked t2 layout.
struct F32BlockedArgs {
  int64_t m = 0;
  int64_t k = 0;             // x rows are k floats apart (no padding)
  int64_t k_blocks = 0;      // padded K / 16
  const float* x = nullptr;  // m x k, dense
  const uint8_t* w = nullptr;
  const float* w_scale = nullptr;  // n scales, or 1 if !w_scale_per_channel
  bool w_scale_per_channel = false;
  const float* bias = nullptr;  // n values, or null
  int64_t n = 0;                // all columns: the row stride of y
  int64_t n_begin = 0;          // a multiple of the column block
  int64_t n_end = 0;
  float* y = nullptr;
  float* scratch = nullptr;  // for micro-kernels that build tables: 64-byte aligned
};

/// Fills Qd8BlockedArgs for output columns [n_begin, n_end), with activations staged for
/// weight blocks of `k_group` k (stage_activations). Either y or acc is the output.
Qd8BlockedArgs make_qd8_args(const Int8GemmArgs& args, int64_t k_group, int64_t n_begin,
                             int64_t n_end, float* y, int32_t* acc);

/// Fills F32BlockedArgs for output columns [n_begin, n_end) of the blocked t2 layout.
F32BlockedArgs make_f32_args(const Float32GemmArgs& args, int64_t n_begin, int64_t n_end, float* y);

}  // namespace internal
}  // namespace bitlab

#endif  // BITLAB_BITCORE_KERNELS_X86_BLOCKED_ARGS_H_
