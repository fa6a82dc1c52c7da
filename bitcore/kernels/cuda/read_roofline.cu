#include <cuda_runtime.h>

#include "bitcore/kernels/cuda/read_roofline.h"

namespace bitlab {
namespace cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kUnroll = 4;

__global__ void read_kernel(const uint4* data, int64_t count, unsigned* sink) {
  const int64_t stride = int64_t{gridDim.x} * kThreads;
  unsigned folded = 0;
  for (int64_t i = blockIdx.x * int64_t{kThreads} + threadIdx.x; i < count; i += stride * kUnroll) {
    uint4 v[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int64_t j = i + u * stride;
      v[u] = j < count ? __ldcs(data + j) : make_uint4(0, 0, 0, 0);
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) folded ^= v[u].x ^ v[u].y ^ v[u].z ^ v[u].w;
  }
  if (folded == 0x9e3779b9u && threadIdx.x == 0x3ff) *sink = folded;  // never: threads < 1024
}

}  // namespace

cudaError_t read_roofline(const void* data, int64_t bytes, unsigned* sink, cudaStream_t stream) {
  if (data == nullptr || sink == nullptr || bytes <= 0 || bytes % 16 != 0) {
    return cudaErrorInvalidValue;
  }
  int device = 0;
  int multiprocessors = 0;
  cudaError_t status = cudaGetDevice(&device);
  if (status == cudaSuccess) {
    status = cudaDeviceGetAttribute(&multiprocessors, cudaDevAttrMultiProcessorCount, device);
  }
  if (status != cudaSuccess) return status;
  // 32 blocks a multiprocessor measured fastest on an H100 (of 4, 8, 16 and 32).
  read_kernel<<<multiprocessors * 32, kThreads, 0, stream>>>(static_cast<const uint4*>(data),
                                                             bytes / 16, sink);
  return cudaGetLastError();
}

}  // namespace cuda
}  // namespace bitlab
