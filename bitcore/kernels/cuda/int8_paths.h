// The int8 kernels behind cuda::int8_gemm, one launcher per path, for int8_gemm's dispatch.
// Arguments are validated by int8_gemm before any of these runs.
#ifndef BITLAB_BITCORE_KERNELS_CUDA_INT8_PATHS_H_
#define BITLAB_BITCORE_KERNELS_CUDA_INT8_PATHS_H_

#include <cstdint>

#include <cuda_runtime_api.h>

#include "bitcore/kernels/cuda/cuda_kernels.h"
#include "bitcore/kernels/cuda/cuda_weight_layout.h"

namespace bitlab {
namespace cuda {
namespace internal {

/// dp4a matrix-vector, 1 <= m <= kMaxGemvRows (int8_gemv.cu).
cudaError_t int8_gemv(const Int8GemmArgs& args, int32_t* acc, float* y, cudaStream_t stream);

/// mma.sync s8 tensor-core products (int8_mma_gemm.cu), any m.
cudaError_t int8_mma_gemm_small(const Int8GemmArgs& args, int32_t* acc, float* y,
                                cudaStream_t stream);
cudaError_t int8_mma_gemm_large(const Int8GemmArgs& args, int32_t* acc, float* y,
                                cudaStream_t stream);

/// wgmma s8 tensor-core product for large m (int8_wgmma_gemm.cu, sm_90a). Returns
/// cudaErrorInvalidDevice on devices other than compute capability 9.0.
cudaError_t int8_wgmma_gemm(const Int8GemmArgs& args, int32_t* acc, float* y, cudaStream_t stream);
/// Whether the current device runs int8_wgmma_gemm (compute capability 9.0; read once).
bool int8_wgmma_supported();

}  // namespace internal
}  // namespace cuda
}  // namespace bitlab

#endif  // BITLAB_BITCORE_KERNELS_CUDA_INT8_PATHS_H_
