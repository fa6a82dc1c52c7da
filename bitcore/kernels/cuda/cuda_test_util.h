// Device memory and status checks shared by the CUDA kernel test and benchmark.
#ifndef BITLAB_BITCORE_KERNELS_CUDA_CUDA_TEST_UTIL_H_
#define BITLAB_BITCORE_KERNELS_CUDA_CUDA_TEST_UTIL_H_

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <cuda_runtime_api.h>

#include "bitcore/kernels/cuda/cuda_kernels.h"

namespace bitlab {
namespace cuda {

/// Aborts with the call, file and line when a CUDA call fails: every status is checked.
#define BITLAB_CUDA_CHECK(call)                                                 \
  do {                                                                          \
    const cudaError_t bitlab_status = (call);                                   \
    if (bitlab_status != cudaSuccess) {                                         \
      std::fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #call, \
                   cudaGetErrorString(bitlab_status));                          \
      std::abort();                                                             \
    }                                                                           \
  } while (0)

/// An owned device array of `count` T.
template <typename T>
class DeviceBuffer {
 public:
  explicit DeviceBuffer(int64_t count) : count_(count) {
    BITLAB_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&data_), bytes() > 0 ? bytes() : 1));
  }
  explicit DeviceBuffer(const std::vector<T>& host)
      : DeviceBuffer(static_cast<int64_t>(host.size())) {
    upload(host);
  }
  ~DeviceBuffer() { cudaFree(data_); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  T* get() const { return data_; }
  int64_t bytes() const { return count_ * static_cast<int64_t>(sizeof(T)); }
  void upload(const std::vector<T>& host) {
    BITLAB_CUDA_CHECK(cudaMemcpy(data_, host.data(), bytes(), cudaMemcpyHostToDevice));
  }
  std::vector<T> download() const {
    std::vector<T> host(count_);
    BITLAB_CUDA_CHECK(cudaMemcpy(host.data(), data_, bytes(), cudaMemcpyDeviceToHost));
    return host;
  }
  /// Fills every byte with 0xff: int32 -1, float NaN, so unwritten outputs show.
  void poison() { BITLAB_CUDA_CHECK(cudaMemset(data_, 0xff, bytes())); }

 private:
  T* data_ = nullptr;
  int64_t count_ = 0;
};

}  // namespace cuda
}  // namespace bitlab

#endif  // BITLAB_BITCORE_KERNELS_CUDA_CUDA_TEST_UTIL_H_
