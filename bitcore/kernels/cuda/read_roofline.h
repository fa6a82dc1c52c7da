// A bare streaming read of device memory, for the benchmark's second roofline: how fast this
// GPU reads a buffer of a given size at all, launch and ramp included, which for tens of MB is
// well under the large-copy bandwidth.
#ifndef BITLAB_BITCORE_KERNELS_CUDA_READ_ROOFLINE_H_
#define BITLAB_BITCORE_KERNELS_CUDA_READ_ROOFLINE_H_

#include <cstdint>

#include <cuda_runtime_api.h>

namespace bitlab {
namespace cuda {

/// Reads `bytes` (a multiple of 16, 16-byte aligned) from `data`, each byte once, 16 bytes a
/// load; `sink` is written only on an impossible condition, so the reads cannot be dropped.
cudaError_t read_roofline(const void* data, int64_t bytes, unsigned* sink, cudaStream_t stream);

}  // namespace cuda
}  // namespace bitlab

#endif  // BITLAB_BITCORE_KERNELS_CUDA_READ_ROOFLINE_H_
