#include <string>

#include <cuda_runtime_api.h>

#include "bitcore/kernels/cuda/cuda_kernels.h"

namespace bitlab {
namespace cuda {

std::string missing_cuda_device() {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    cudaGetLastError();  // clear the error the probe left
    return std::string("no CUDA device: cudaGetDeviceCount failed: ") + cudaGetErrorString(status);
  }
  if (count == 0) return "no CUDA device: cudaGetDeviceCount found none";
  return "";
}

}  // namespace cuda
}  // namespace bitlab
