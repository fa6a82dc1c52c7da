#include "bitcore/bitlinear.h"

#include <algorithm>
#include <vector>

#include <ATen/Parallel.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/linear.h>
#include <c10/core/GradMode.h>
#include <torch/csrc/autograd/custom_function.h>

#include "absl/strings/str_cat.h"
#include "bitcore/errors.h"
#include "bitcore/kernel_registry.h"
#include "bitcore/packing.h"
#include "bitcore/parallel.h"
#include "bitcore/quantization.h"
#include "bitcore/tensor_checks.h"
#ifdef BITLAB_BUILD_CUDA
#include <cuda_runtime_api.h>

#include "bitcore/kernels/cuda/cuda_kernels.h"
#include "bitcore/kernels/cuda/cuda_weight_layout.h"
#endif

namespace bitlab {
namespace bitlinear {
namespace {

void check_weight(const char* function, const at::Tensor& weight) {
  check_dtype(function, "weight", weight, at::kFloat);
  check_rank(function, "weight", weight, 2);
  check_not_empty(function, "weight", weight);
}

void check_input(const char* function, const at::Tensor& x, int64_t in_features) {
  check_dtype(function, "input", x, at::kFloat);
  check_min_rank(function, "input", x, 1);
  if (x.size(-1) != in_features) {
    throw ShapeError(absl::StrCat(function, ": input has shape ", shape_string(x),
                                  "; its last dimension is ", x.size(-1),
                                  ", expected in_features = ", in_features));
  }
}

void check_bias(const char* function, const at::Tensor& bias, int64_t out_features) {
  if (!bias.defined()) return;
  check_dtype(function, "bias", bias, at::kFloat);
  if (bias.dim() != 1 || bias.size(0) != out_features) {
    throw ShapeError(absl::StrCat(function, ": bias has shape ", shape_string(bias), ", expected [",
                                  out_features, "] (out_features)"));
  }
}

// The device whose kernels run the input `x`. CUDA tensors need a --config=cuda build; other
// devices get check_cpu's message.
KernelDevice input_device(const char* function, const at::Tensor& x) {
  if (x.defined() && x.is_cuda()) {
#ifdef BITLAB_BUILD_CUDA
    return KernelDevice::kCuda;
#else
    throw ShapeError(absl::StrCat(function, ": input is on ", x.device().str(),
                                  "; BitLab was built without --config=cuda; rebuild with it to "
                                  "run on CUDA tensors"));
#endif
  }
  check_cpu(function, "input", x);
  return KernelDevice::kCpu;
}

// y [M, N] viewed as the input's leading dimensions x N.
at::Tensor view_as_output(const at::Tensor& y, const at::Tensor& x) {
  std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end());
  shape.back() = y.size(1);
  return y.view(shape);
}

#ifdef BITLAB_BUILD_CUDA
void check_cuda(const char* call, cudaError_t status) {
  if (status != cudaSuccess) {
    throw BitLabError(absl::StrCat("bitlinear: ", call, " failed: ", cudaGetErrorString(status)));
  }
}

// Makes `device` the thread's current GPU for raw CUDA calls and restores the previous one:
// libtorch's own device guard is in c10/cuda, which a CPU-only libtorch does not ship.
class CudaDeviceScope {
 public:
  explicit CudaDeviceScope(int device) {
    check_cuda("cudaGetDevice", cudaGetDevice(&previous_));
    if (device != previous_) check_cuda("cudaSetDevice", cudaSetDevice(device));
  }
  ~CudaDeviceScope() { cudaSetDevice(previous_); }
  CudaDeviceScope(const CudaDeviceScope&) = delete;
  CudaDeviceScope& operator=(const CudaDeviceScope&) = delete;

 private:
  int previous_ = 0;
};

// y [M, N] for rows (float32 [M, K], contiguous, on a GPU) on the device-pointer CUDA kernels,
// everything on rows' GPU: the host-packed weights, their scales and the bias move there, the
// activations are quantized there into zero-padded rows of cuda_padded_k(K) int8, and
// cuda::int8_gemm writes y. Not through the kernel's BitKernel calls, which take host memory.
// The launches go to stream 0, the legacy default stream, which is libtorch's default stream,
// so they run after libtorch's copies above and before libtorch's later use of y (a caller
// that made another stream current must synchronize it first).
at::Tensor run_cuda_int8(const char* function, const at::Tensor& rows, const KernelWeights& weights,
                         const at::Tensor& bias, const BitQuantConfig& config) {
  const std::string incompatible = weights.kernel->incompatibility(config);
  if (!incompatible.empty()) {
    throw KernelNotFoundError(absl::StrCat(function, ": kernel \"", weights.kernel->name(),
                                           "\" does not implement ", config.to_string(), ": ",
                                           incompatible));
  }
  const int64_t m = rows.size(0);
  const int64_t k = weights.in_features;
  const int64_t n = weights.out_features;
  const bool per_token = config.activation_granularity == Granularity::kPerChannel;
  const at::Device device = rows.device();
  const at::TensorOptions on_device = at::TensorOptions().device(device);
  const at::Tensor packed = weights.packed.to(device);
  const at::Tensor w_scale = weights.scale.to(device);
  const at::Tensor bias_d = bias.defined() ? bias.to(device).contiguous() : at::Tensor();
  at::Tensor q = at::empty({m, cuda::cuda_padded_k(k)}, on_device.dtype(at::kChar));
  at::Tensor x_scale = at::empty({per_token ? m : 1}, on_device.dtype(at::kFloat));
  at::Tensor row_sums = at::empty({m}, on_device.dtype(at::kInt));
  at::Tensor y = at::empty({m, n}, on_device.dtype(at::kFloat));
  if (m == 0) return y;

  CudaDeviceScope scope(device.index());
  cuda::QuantizeArgs quantize;
  quantize.x = rows.data_ptr<float>();
  quantize.m = m;
  quantize.k = k;
  quantize.per_token = per_token;
  quantize.eps = config.eps;
  quantize.q = q.data_ptr<int8_t>();
  quantize.scales = x_scale.data_ptr<float>();
  quantize.row_sums = row_sums.data_ptr<int32_t>();
  check_cuda("bitlab::cuda::quantize_activations",
             cuda::quantize_activations(quantize, /*stream=*/0));

  cuda::Int8GemmArgs gemm;
  gemm.m = m;
  gemm.n = n;
  gemm.k = k;
  gemm.x = q.data_ptr<int8_t>();
  gemm.x_scale = x_scale.data_ptr<float>();
  gemm.x_scale_per_row = per_token;
  gemm.x_row_sums = row_sums.data_ptr<int32_t>();
  gemm.w = packed.data_ptr<uint8_t>();
  gemm.w_scale = w_scale.data_ptr<float>();
  gemm.w_scale_per_channel = w_scale.size(0) > 1;
  gemm.bias = bias_d.defined() ? bias_d.data_ptr<float>() : nullptr;
  check_cuda("bitlab::cuda::int8_gemm",
             cuda::int8_gemm(gemm, /*acc=*/nullptr, y.data_ptr<float>(), /*stream=*/0));
  return y;
}
#endif  // BITLAB_BUILD_CUDA

// The STE as an autograd function: quantize in the forward, pass gradients straight through.
class FakeQuantLinearFunction : public torch::autograd::Function<FakeQuantLinearFunction> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x,
                            const at::Tensor& weight, const c10::optional<at::Tensor>& bias,
                            const BitQuantConfig& config, at::Tensor* w_hat_workspace) {
    const at::Tensor x_hat =
        config.activation_dtype == ActivationDtype::kInt8 ? fake_quantize_x(x, config) : x;
    at::Tensor fresh;
    at::Tensor& w_hat = w_hat_workspace != nullptr ? *w_hat_workspace : fresh;
    fake_quantize_weight_into(weight, config, w_hat);
    ctx->save_for_backward({x_hat, w_hat});
    ctx->saved_data["has_bias"] = bias.has_value();
    return at::linear(x_hat, w_hat, bias);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& x_hat = saved[0];
    const at::Tensor& w_hat = saved[1];
    const at::Tensor& grad_y = grad_outputs[0];
    const int64_t n = w_hat.size(0);
    const int64_t k = w_hat.size(1);
    // d/dx linear(x, W) = grad_y W; d/dW = grad_y^T x; quantization passes as the identity.
    const at::Tensor grad_rows = grad_y.reshape({-1, n});
    at::Tensor grad_x = grad_y.matmul(w_hat);
    at::Tensor grad_w = grad_rows.t().mm(x_hat.reshape({-1, k}));
    at::Tensor grad_b = ctx->saved_data["has_bias"].toBool() ? grad_rows.sum(0) : at::Tensor();
    return {grad_x, grad_w, grad_b, at::Tensor(), at::Tensor()};
  }
};

// y [M, N] = q @ W^T * s * g + b on the kernel `weights` were packed for; q is contiguous int8
// [M, K]. row_sums may be null (the kernel then computes them if it needs them).
at::Tensor run_int8_gemm(const at::Tensor& q, const at::Tensor& x_scale, const int32_t* row_sums,
                         const KernelWeights& weights, const at::Tensor& bias,
                         at::Tensor y = at::Tensor()) {
  const BitKernel& kernel = *weights.kernel;
  const int64_t m = q.size(0);
  const int64_t n = weights.out_features;
  const int64_t k = weights.in_features;
  const at::Tensor bias_c = bias.defined() ? bias.contiguous() : at::Tensor();
  Int8GemmArgs args;
  args.m = m;
  args.n = n;
  args.k = k;
  args.x = q.data_ptr<int8_t>();
  args.x_scale = x_scale.data_ptr<float>();
  args.x_scale_per_row = x_scale.size(0) == m;
  args.w = weights.packed.data_ptr<uint8_t>();
  args.w_scale = weights.scale.data_ptr<float>();
  args.w_scale_per_channel = weights.scale.size(0) > 1;
  args.bias = bias_c.defined() ? bias_c.data_ptr<float>() : nullptr;
  args.x_row_sums = row_sums;
  if (!y.defined()) y = at::empty({m, n}, at::kFloat);
  float* out = y.data_ptr<float>();
  parallel_for_columns(n, kernel.n_block(), num_threads(), m * k, [&](int64_t begin, int64_t end) {
    kernel.int8_gemm(args, begin, end, out);
  });
  return y;
}

}  // namespace

void quantize_activations(const BitKernel& kernel, const float* x, int64_t m, int64_t k,
                          const BitQuantConfig& config, int8_t* q, float* scales,
                          int32_t* row_sums) {
  if (m <= 0) return;
  const bool per_token = config.activation_granularity == Granularity::kPerChannel;
  // About 16 K values per task: smaller pieces would cost more in scheduling than they save.
  constexpr int64_t kValuesPerTask = 16384;
  if (m * k < 4 * kValuesPerTask || at::in_parallel_region() || num_threads() == 1) {
    kernel.quantize_activations(x, m, k, config.activation_granularity, config.eps, q, scales,
                                row_sums);
    return;
  }
  if (per_token && m > 1) {
    // A scale per row: rows are independent.
    const int64_t rows_per_task = std::max<int64_t>(1, kValuesPerTask / std::max<int64_t>(k, 1));
    at::parallel_for(0, m, rows_per_task, [&](int64_t begin, int64_t end) {
      kernel.quantize_activations(x + begin * k, end - begin, k, Granularity::kPerChannel,
                                  config.eps, q + begin * k, scales + begin,
                                  row_sums == nullptr ? nullptr : row_sums + begin);
    });
    return;
  }
  // One scale for everything (per tensor, or one row, as a convolution's single sample):
  // the absmax of pieces taken in parallel, then the pieces quantized with it. A max does not
  // depend on the order it is taken in, each value is quantized on its own and the sums are
  // integers, so the bits are those of the kernel's serial quantize_activations.
  const ActivationQuantizer quantizer = kernel.activation_quantizer();
  const int64_t pieces_per_row = (k + kValuesPerTask - 1) / kValuesPerTask;
  const int64_t pieces = m * pieces_per_row;
  auto piece_span = [&](int64_t piece, int64_t* offset, int64_t* count) {
    const int64_t row = piece / pieces_per_row;
    const int64_t first = (piece % pieces_per_row) * kValuesPerTask;
    *offset = row * k + first;
    *count = std::min(kValuesPerTask, k - first);
  };
  std::vector<float> piece_absmax(static_cast<size_t>(pieces));
  at::parallel_for(0, pieces, 1, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      int64_t offset = 0, count = 0;
      piece_span(p, &offset, &count);
      piece_absmax[p] = quantizer.absmax(x + offset, count);
    }
  });
  const float absmax = *std::max_element(piece_absmax.begin(), piece_absmax.end());
  std::vector<int32_t> piece_sums(static_cast<size_t>(pieces), 0);
  at::parallel_for(0, pieces, 1, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      int64_t offset = 0, count = 0;
      piece_span(p, &offset, &count);
      const float scale =
          quantizer.quantize_row(x + offset, count, absmax, config.eps, q + offset, &piece_sums[p]);
      if (p == 0) scales[0] = scale;
    }
  });
  if (row_sums != nullptr) {
    for (int64_t row = 0; row < m; ++row) {
      int32_t sum = 0;
      for (int64_t p = 0; p < pieces_per_row; ++p) sum += piece_sums[row * pieces_per_row + p];
      row_sums[row] = sum;
    }
  }
}

PreparedWeights prepare_weights(const at::Tensor& weight, const BitQuantConfig& config) {
  check_weight("bitlinear::prepare_weights", weight);
  c10::NoGradGuard no_grad;
  QuantizedTensor q = quantize_weight(weight.detach().cpu(), config);
  PreparedWeights prepared;
  prepared.qweight_scale = q.scale;
  prepared.qweight = pack_t2(q.values);
  prepared.in_features = weight.size(1);
  return prepared;
}

KernelWeights pack_for_kernel(const PreparedWeights& prepared, const BitKernel& kernel) {
  const char* function = "bitlinear::pack_for_kernel";
  check_dtype(function, "qweight", prepared.qweight, at::kByte);
  check_rank(function, "qweight", prepared.qweight, 2);
  check_cpu(function, "qweight", prepared.qweight);
  const int64_t n = prepared.qweight.size(0);
  const int64_t k = prepared.in_features;
  if (k <= 0 || prepared.qweight.size(1) != (k + 3) / 4) {
    throw ShapeError(absl::StrCat(function, ": qweight has shape ", shape_string(prepared.qweight),
                                  ", expected [", n, ", ", (k + 3) / 4, "] for in_features = ", k));
  }
  check_dtype(function, "qweight_scale", prepared.qweight_scale, at::kFloat);
  const at::Tensor& scale = prepared.qweight_scale;
  if (scale.dim() != 1 || (scale.size(0) != 1 && scale.size(0) != n)) {
    throw ShapeError(absl::StrCat(function, ": qweight_scale has shape ", shape_string(scale),
                                  ", expected [1] or [", n, "] (out_features)"));
  }
  KernelWeights weights;
  weights.kernel = &kernel;
  weights.in_features = k;
  weights.out_features = n;
  weights.scale = scale.contiguous();
  weights.packed = at::empty({kernel.packed_weight_bytes(n, k)}, at::kByte);
  const at::Tensor t2 = prepared.qweight.contiguous();
  kernel.pack_weights(t2.data_ptr<uint8_t>(), n, k, weights.packed.data_ptr<uint8_t>());
  return weights;
}

at::Tensor fake_quant_linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                             const BitQuantConfig& config, at::Tensor* w_hat_workspace) {
  const char* function = "bitlinear::fake_quant_linear";
  config.validate();
  check_weight(function, weight);
  check_input(function, x, weight.size(1));
  check_bias(function, bias, weight.size(0));
  // An undefined tensor cannot be an autograd input; an empty optional can.
  const c10::optional<at::Tensor> optional_bias =
      bias.defined() ? c10::optional<at::Tensor>(bias) : c10::nullopt;
  return FakeQuantLinearFunction::apply(x, weight, optional_bias, config, w_hat_workspace);
}

at::Tensor forward_packed(const at::Tensor& x, const KernelWeights& weights, const at::Tensor& bias,
                          const BitQuantConfig& config) {
  const char* function = "bitlinear::forward_packed";
  config.validate();
  if (weights.kernel == nullptr) {
    throw BitLabError(absl::StrCat(function, ": weights were not packed for a kernel"));
  }
  check_input(function, x, weights.in_features);
  const KernelDevice device = input_device(function, x);
  check_bias(function, bias, weights.out_features);
  const BitKernel& kernel = *weights.kernel;
  if (kernel.device() != device) {
    throw ShapeError(absl::StrCat(
        function, ": input is on ", x.device().str(), " but the weights were packed for the ",
        to_string(kernel.device()), " kernel \"", kernel.name(), "\"; pack them for a ",
        to_string(device), " kernel (KernelRegistry::get_kernel_for_config(config, device))"));
  }
  const int64_t k = weights.in_features;
  const int64_t n = weights.out_features;
  const at::Tensor rows = x.reshape({-1, k}).contiguous();
#ifdef BITLAB_BUILD_CUDA
  if (device == KernelDevice::kCuda) {
    return view_as_output(run_cuda_int8(function, rows, weights, bias, config), x);
  }
#endif
  const int64_t m = rows.size(0);
  at::Tensor y;
  if (config.activation_dtype == ActivationDtype::kInt8) {
    const bool per_token = config.activation_granularity == Granularity::kPerChannel;
    at::Tensor q = at::empty({m, k}, at::kChar);
    at::Tensor x_scale = at::empty({per_token ? m : 1}, at::kFloat);
    at::Tensor row_sums = at::empty({m}, at::kInt);
    quantize_activations(kernel, rows.data_ptr<float>(), m, k, config, q.data_ptr<int8_t>(),
                         x_scale.data_ptr<float>(), row_sums.data_ptr<int32_t>());
    y = run_int8_gemm(q, x_scale, row_sums.data_ptr<int32_t>(), weights, bias);
  } else {
    y = at::empty({m, n}, at::kFloat);
    Float32GemmArgs args;
    args.m = m;
    args.n = n;
    args.k = k;
    args.x = rows.data_ptr<float>();
    args.w = weights.packed.data_ptr<uint8_t>();
    args.w_scale = weights.scale.data_ptr<float>();
    args.w_scale_per_channel = weights.scale.size(0) > 1;
    const at::Tensor bias_c = bias.defined() ? bias.contiguous() : at::Tensor();
    args.bias = bias_c.defined() ? bias_c.data_ptr<float>() : nullptr;
    float* out = y.data_ptr<float>();
    parallel_for_columns(
        n, kernel.n_block(), num_threads(), m * k,
        [&](int64_t begin, int64_t end) { kernel.float32_gemm(args, begin, end, out); });
  }
  return view_as_output(y, x);
}

at::Tensor forward_packed_int8(const at::Tensor& q_rows, const at::Tensor& x_scale,
                               const KernelWeights& weights, const at::Tensor& bias,
                               const at::Tensor& row_sums, const at::Tensor& out) {
  const char* function = "bitlinear::forward_packed_int8";
  if (weights.kernel == nullptr) {
    throw BitLabError(absl::StrCat(function, ": weights were not packed for a kernel"));
  }
  check_dtype(function, "q_rows", q_rows, at::kChar);
  check_rank(function, "q_rows", q_rows, 2);
  check_cpu(function, "q_rows", q_rows);
  if (q_rows.size(1) != weights.in_features) {
    throw ShapeError(absl::StrCat(function, ": q_rows has shape ", shape_string(q_rows),
                                  ", expected [M, ", weights.in_features, "] (in_features)"));
  }
  check_dtype(function, "x_scale", x_scale, at::kFloat);
  if (x_scale.dim() != 1 || (x_scale.size(0) != 1 && x_scale.size(0) != q_rows.size(0))) {
    throw ShapeError(absl::StrCat(function, ": x_scale has shape ", shape_string(x_scale),
                                  ", expected [1] or [", q_rows.size(0), "] (one per row)"));
  }
  check_bias(function, bias, weights.out_features);
  const int32_t* sums = nullptr;
  if (row_sums.defined()) {
    check_dtype(function, "row_sums", row_sums, at::kInt);
    if (row_sums.dim() != 1 || row_sums.size(0) != q_rows.size(0) || !row_sums.is_contiguous()) {
      throw ShapeError(absl::StrCat(function, ": row_sums has shape ", shape_string(row_sums),
                                    ", expected a contiguous [", q_rows.size(0), "]"));
    }
    sums = row_sums.data_ptr<int32_t>();
  }
  if (out.defined()) {
    check_dtype(function, "out", out, at::kFloat);
    if (out.dim() != 2 || out.size(0) != q_rows.size(0) || out.size(1) != weights.out_features ||
        !out.is_contiguous()) {
      throw ShapeError(absl::StrCat(function, ": out has shape ", shape_string(out),
                                    ", expected a contiguous [", q_rows.size(0), ", ",
                                    weights.out_features, "]"));
    }
  }
  return run_int8_gemm(q_rows.contiguous(), x_scale.contiguous(), sums, weights, bias, out);
}

at::Tensor forward_prepared(const at::Tensor& x, const PreparedWeights& prepared,
                            const at::Tensor& bias, const BitQuantConfig& config) {
  // CPU inputs run on the CPU kernels, CUDA inputs on the CUDA kernels; either way the
  // weights are packed on the host, in the chosen kernel's layout.
  const KernelDevice device = input_device("bitlinear::forward_prepared", x);
  const BitKernel& kernel = KernelRegistry::get_kernel_for_config(config, device);
  return forward_packed(x, pack_for_kernel(prepared, kernel), bias, config);
}

at::Tensor forward(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                   const BitQuantConfig& config, bool training) {
  if (training) return fake_quant_linear(x, weight, bias, config);
  return forward_prepared(x, prepare_weights(weight, config), bias, config);
}

}  // namespace bitlinear
}  // namespace bitlab
