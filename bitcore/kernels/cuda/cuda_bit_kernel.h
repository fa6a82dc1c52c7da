// The CUDA backend as a registry kernel (--config=cuda only). It lets the registry list, explain
// and select the CUDA kernels like the CPU ones, and lets the conformance test check them
// against the reference kernel through the common BitKernel interface.
//
// Its BitKernel calls take host memory (see BitKernel::device()): each copies its inputs to the
// GPU, runs bitlab::cuda::int8_gemm and copies the result back. That is for tests and
// convenience; bitlinear on CUDA tensors calls cuda_kernels.h on device memory instead.
//
// Only int8 activations are implemented; float32 activations are reported incompatible.
#ifndef BITLAB_BITCORE_KERNELS_CUDA_CUDA_BIT_KERNEL_H_
#define BITLAB_BITCORE_KERNELS_CUDA_CUDA_BIT_KERNEL_H_

#include "bitcore/kernels/bit_kernel.h"

namespace bitlab {

/// The process-wide CUDA kernel, named "cuda" (device KernelDevice::kCuda).
const BitKernel& cuda_kernel();

}  // namespace bitlab

#endif  // BITLAB_BITCORE_KERNELS_CUDA_CUDA_BIT_KERNEL_H_
