#include "bitcore/kernels/x86/blocked_args.h"

#include "bitcore/kernels/bit_kernel.h"
#include "bitcore/kernels/x86/staged_activations.h"

namespace bitlab {
namespace internal {

Qd8BlockedArgs make_qd8_args(const Int8GemmArgs& args, int64_t k_group, int64_t n_begin,
                             int64_t n_end, float* y, int32_t* acc) {
  const int64_t k_padded = (args.k + k_group - 1) / k_group * k_group;
  const StagedActivations staged = stage_activations(args, k_padded);
  Qd8BlockedArgs a;
  a.m = args.m;
  a.k_blocks = k_padded / k_group;
  a.x = staged.x;
  a.x_stride = staged.stride;
  a.row_sums = staged.row_sums;
  a.x_scale = args.x_scale;
  a.x_scale_per_row = args.x_scale_per_row;
  a.w = args.w;
  a.w_scale = args.w_scale;
  a.w_scale_per_channel = args.w_scale_per_channel;
  a.bias = args.bias;
  a.n = args.n;
  a.n_begin = n_begin;
  a.n_end = n_end;
  a.y = y;
  a.acc = acc;
  return a;
}

F32BlockedArgs make_f32_args(const Float32GemmArgs& args, int64_t n_begin, int64_t n_end,
                             float* y) {
  F32BlockedArgs a;
  a.m = args.m;
  a.k = args.k;
  a.k_blocks = (args.k + 15) / 16;
  a.x = args.x;
  a.w = args.w;
  a.w_scale = args.w_scale;
  a.w_scale_per_channel = args.w_scale_per_channel;
  a.bias = args.bias;
  a.n = args.n;
  a.n_begin = n_begin;
  a.n_end = n_end;
  a.y = y;
  return a;
}

}  // namespace internal
}  // namespace bitlab
