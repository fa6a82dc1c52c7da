#include "bitcore/kernels/cuda/cuda_bit_kernel.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <cuda_runtime_api.h>

#include "bitcore/errors.h"
#include "bitcore/kernels/cuda/cuda_kernels.h"
#include "bitcore/kernels/cuda/cuda_weight_layout.h"
#include "bitcore/kernels/reference/reference_kernel.h"

namespace bitlab {
namespace {

// The kernels are compiled for sm_80 and sm_90 (bazel/cuda.bzl); int8 mma.sync needs 8.0.
constexpr int kMinComputeMajor = 8;

void check(const char* call, cudaError_t status) {
  if (status != cudaSuccess) {
    throw BitLabError(std::string("cuda kernel: ") + call +
                      " failed: " + cudaGetErrorString(status));
  }
}

struct CudaFree {
  void operator()(void* p) const { cudaFree(p); }
};
// Device memory freed on every way out, exceptions included.
using DevicePtr = std::unique_ptr<void, CudaFree>;

DevicePtr device_alloc(size_t bytes) {
  void* p = nullptr;
  check("cudaMalloc", cudaMalloc(&p, bytes > 0 ? bytes : 1));
  return DevicePtr(p);
}

// A device copy of `count` host values; null for a null `host` (an absent bias).
template <typename T>
DevicePtr upload(const T* host, int64_t count) {
  if (host == nullptr) return nullptr;
  const size_t bytes = sizeof(T) * static_cast<size_t>(count);
  DevicePtr device = device_alloc(bytes);
  check("cudaMemcpy (host to device)",
        cudaMemcpy(device.get(), host, bytes, cudaMemcpyHostToDevice));
  return device;
}

// Device copies of an Int8GemmArgs' host arrays, in the layout the CUDA kernels read, and the
// cuda::Int8GemmArgs that points at them.
struct DeviceGemm {
  DevicePtr x, x_scale, x_row_sums, w, w_scale, bias;
  cuda::Int8GemmArgs args;
};

// `with_scales` is false for int8_accumulate, whose callers may leave the scales null.
DeviceGemm upload_args(const Int8GemmArgs& a, bool with_scales) {
  DeviceGemm d;
  // Activation rows of cuda_padded_k(k) bytes with zero padding: the padding weights are
  // code 1 (q + 1 for q = 0), and only zeros keep them out of the sums.
  const int64_t padded_k = cuda::cuda_padded_k(a.k);
  const size_t x_bytes = static_cast<size_t>(a.m * padded_k);
  d.x = device_alloc(x_bytes);
  check("cudaMemset", cudaMemset(d.x.get(), 0, x_bytes));
  check("cudaMemcpy2D (host to device)",
        cudaMemcpy2D(d.x.get(), static_cast<size_t>(padded_k), a.x, static_cast<size_t>(a.k),
                     static_cast<size_t>(a.k), static_cast<size_t>(a.m), cudaMemcpyHostToDevice));
  // The kernels multiply by weight codes and subtract the row sums, so they always need them.
  std::vector<int32_t> sums;
  const int32_t* row_sums = a.x_row_sums;
  if (row_sums == nullptr) {
    sums.assign(static_cast<size_t>(a.m), 0);
    for (int64_t i = 0; i < a.m * a.k; ++i) sums[i / a.k] += a.x[i];
    row_sums = sums.data();
  }
  d.x_row_sums = upload(row_sums, a.m);
  d.w = upload(a.w, cuda::cuda_packed_weight_bytes(a.n, a.k));
  if (with_scales) {
    d.x_scale = upload(a.x_scale, a.x_scale_per_row ? a.m : 1);
    d.w_scale = upload(a.w_scale, a.w_scale_per_channel ? a.n : 1);
    d.bias = upload(a.bias, a.n);
  }
  d.args.m = a.m;
  d.args.n = a.n;
  d.args.k = a.k;
  d.args.x = static_cast<const int8_t*>(d.x.get());
  d.args.x_scale = static_cast<const float*>(d.x_scale.get());
  d.args.x_scale_per_row = a.x_scale_per_row;
  d.args.x_row_sums = static_cast<const int32_t*>(d.x_row_sums.get());
  d.args.w = static_cast<const uint8_t*>(d.w.get());
  d.args.w_scale = static_cast<const float*>(d.w_scale.get());
  d.args.w_scale_per_channel = a.w_scale_per_channel;
  d.args.bias = static_cast<const float*>(d.bias.get());
  return d;
}

std::string why_unsupported() {
  const std::string missing = cuda::missing_cuda_device();
  if (!missing.empty()) return missing;
  int device = 0;
  cudaDeviceProp props;
  cudaError_t query = cudaGetDevice(&device);
  if (query == cudaSuccess) query = cudaGetDeviceProperties(&props, device);
  if (query != cudaSuccess) {
    return std::string("cannot query the CUDA device: ") + cudaGetErrorString(query);
  }
  if (props.major < kMinComputeMajor) {
    return "CUDA device " + std::to_string(device) + " (" + props.name +
           ") has compute capability " + std::to_string(props.major) + "." +
           std::to_string(props.minor) + "; the CUDA kernels need 8.0 or later";
  }
  return "";
}

class CudaKernel final : public BitKernel {
 public:
  const char* name() const override { return "cuda"; }
  const char* isa() const override { return "cuda sm_80+"; }
  // Selection is per device, so this ranks the kernel among CUDA kernels only (it is the one).
  int priority() const override { return 100; }
  KernelDevice device() const override { return KernelDevice::kCuda; }

  // The GPU does not change while the process runs: decided once, on first use.
  std::string unsupported_reason() const override { return unsupported_; }

  std::string incompatibility(const BitQuantConfig& config) const override {
    // Both weight and activation granularities are scale arguments of cuda::int8_gemm and
    // cuda::quantize_activations; the activation dtype is the one thing they lack.
    if (config.activation_dtype != ActivationDtype::kInt8) {
      return "float32 activations are not implemented for CUDA (only int8 activations)";
    }
    return "";
  }

  int64_t n_block() const override { return 1; }
  int64_t packed_weight_bytes(int64_t n, int64_t k) const override {
    return cuda::cuda_packed_weight_bytes(n, k);
  }
  void pack_weights(const uint8_t* t2, int64_t n, int64_t k, uint8_t* packed) const override {
    cuda::pack_cuda_weights(t2, n, k, packed);
  }

  // Host quantization for the host-pointer calls: the reference's, which the CUDA quantizer
  // matches bit for bit (the numerics contract).
  ActivationQuantizer activation_quantizer() const override {
    return reference_kernel().activation_quantizer();
  }

  void int8_accumulate(const Int8GemmArgs& args, int32_t* acc) const override {
    if (args.m <= 0 || args.n <= 0) return;
    const DeviceGemm d = upload_args(args, /*with_scales=*/false);
    const size_t bytes = sizeof(int32_t) * static_cast<size_t>(args.m * args.n);
    DevicePtr acc_d = device_alloc(bytes);
    check("bitlab::cuda::int8_gemm",
          cuda::int8_gemm(d.args, static_cast<int32_t*>(acc_d.get()), nullptr, /*stream=*/0));
    check("cudaMemcpy (device to host)",
          cudaMemcpy(acc, acc_d.get(), bytes, cudaMemcpyDeviceToHost));
  }

  void int8_gemm(const Int8GemmArgs& args, int64_t n_begin, int64_t n_end,
                 float* y) const override {
    if (args.m <= 0 || n_begin >= n_end) return;
    const DeviceGemm d = upload_args(args, /*with_scales=*/true);
    const size_t row_bytes = sizeof(float) * static_cast<size_t>(args.n);
    DevicePtr y_d = device_alloc(row_bytes * static_cast<size_t>(args.m));
    check("bitlab::cuda::int8_gemm",
          cuda::int8_gemm(d.args, nullptr, static_cast<float*>(y_d.get()), /*stream=*/0));
    // Only columns [n_begin, n_end) go back: other threads may own the rest of y.
    check("cudaMemcpy2D (device to host)",
          cudaMemcpy2D(y + n_begin, row_bytes, static_cast<const float*>(y_d.get()) + n_begin,
                       row_bytes, sizeof(float) * static_cast<size_t>(n_end - n_begin),
                       static_cast<size_t>(args.m), cudaMemcpyDeviceToHost));
  }

  void float32_gemm(const Float32GemmArgs&, int64_t, int64_t, float*) const override {
    // incompatibility() rejects float32 activations, so the registry never selects this.
    throw BitLabError(
        "cuda kernel: float32 activations are not implemented for CUDA (only int8 activations)");
  }

 private:
  const std::string unsupported_ = why_unsupported();
};

}  // namespace

const BitKernel& cuda_kernel() {
  static const CudaKernel kernel;
  return kernel;
}

}  // namespace bitlab
