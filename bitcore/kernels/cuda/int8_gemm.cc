// cuda::int8_gemm: checks the arguments and picks the path by m.
#include <cstdint>

#include "bitcore/kernels/cuda/cuda_kernels.h"
#include "bitcore/kernels/cuda/int8_paths.h"

namespace bitlab {
namespace cuda {

// Above this many rows the 128 x 128 tiles fill the GPU better than 16-row ones.
constexpr int64_t kMaxSmallTileRows = 64;

bool hopper_tensor_cores_available() { return internal::int8_wgmma_supported(); }

cudaError_t int8_gemm(const Int8GemmArgs& args, int32_t* acc, float* y, cudaStream_t stream,
                      Int8Path path) {
  const bool wants_y = y != nullptr;
  if (args.m <= 0 || args.n <= 0 || args.k <= 0 || args.m > INT32_MAX || args.n > INT32_MAX ||
      args.x == nullptr || args.w == nullptr || args.x_row_sums == nullptr ||
      (acc == nullptr && !wants_y) ||
      (wants_y && (args.x_scale == nullptr || args.w_scale == nullptr))) {
    return cudaErrorInvalidValue;
  }
  if (path == Int8Path::kAuto) {
    path = args.m <= kMaxGemvRows            ? Int8Path::kGemv
           : args.m <= kMaxSmallTileRows     ? Int8Path::kTensorCoreSmall
           : hopper_tensor_cores_available() ? Int8Path::kTensorCoreHopper
                                             : Int8Path::kTensorCoreLarge;
  }
  switch (path) {
    case Int8Path::kGemv:
      if (args.m > kMaxGemvRows) return cudaErrorInvalidValue;
      return internal::int8_gemv(args, acc, y, stream);
    case Int8Path::kTensorCoreSmall:
      return internal::int8_mma_gemm_small(args, acc, y, stream);
    case Int8Path::kTensorCoreLarge:
      return internal::int8_mma_gemm_large(args, acc, y, stream);
    case Int8Path::kTensorCoreHopper:
      return internal::int8_wgmma_gemm(args, acc, y, stream);
    case Int8Path::kAuto:
      break;
  }
  return cudaErrorInvalidValue;
}

}  // namespace cuda
}  // namespace bitlab
