#include "bitcore/quantization.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include <ATen/TensorOperators.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/empty_like.h>
#include <ATen/ops/zeros.h>

#include "absl/strings/str_cat.h"
#include "bitcore/errors.h"
#include "bitcore/parallel.h"
#include "bitcore/tensor_checks.h"

namespace bitlab {
namespace {

// Quantization math runs in float32 whatever the input's floating type.
at::Tensor as_float32(const at::Tensor& t) { return t.to(at::kFloat); }

// A [1] or [N] weight scale viewed as [N, 1, ...] to broadcast over a rank-`rank` weight.
at::Tensor scale_for_rows(const at::Tensor& scale, int64_t rank) {
  std::vector<int64_t> shape(rank, 1);
  shape[0] = scale.size(0);
  return scale.to(at::kFloat).reshape(shape);
}

// max(absmax, eps) over all of x ([1]) or per token (x.shape[:-1] + [1]), float32.
at::Tensor clipped_absmax(const at::Tensor& x, Granularity granularity, float eps) {
  const at::Tensor magnitude = as_float32(x).abs();
  at::Tensor absmax;
  if (granularity == Granularity::kPerChannel) {
    // A row with no features has absmax 0, and eps takes over.
    absmax = x.size(-1) == 0 ? magnitude.sum(-1, /*keepdim=*/true)
                             : magnitude.amax(-1, /*keepdim=*/true);
  } else {
    absmax = x.numel() == 0 ? at::zeros({1}, magnitude.options()) : magnitude.max().reshape({1});
  }
  return absmax.clamp_min(eps);
}

// The passes over a whole weight below are multiversioned: the build targets baseline x86-64,
// whose 4-wide SSE2 leaves them compute-bound (a division per value), so gcc also emits AVX2
// and AVX-512 clones and the loader picks one for this CPU. Every clone performs the same IEEE
// operations in the same order (no FMA: -ffp-contract=off; sums in fixed lanes), so results do
// not depend on the CPU.
#if defined(__x86_64__) && defined(__GNUC__)
#define BITLAB_MULTIVERSION __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define BITLAB_MULTIVERSION
#endif

// Sum of |x| over n values in 16 independent lanes, each a sequential sum in double, added in
// a fixed order at the end: the same result whatever vector width runs it.
BITLAB_MULTIVERSION
double abs_sum(const float* x, int64_t n) {
  constexpr int kLanes = 16;
  double lanes[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int l = 0; l < kLanes; ++l) lanes[l] += static_cast<double>(std::fabs(x[i + l]));
  }
  double sum = 0.0;
  for (int l = 0; l < kLanes; ++l) sum += lanes[l];
  for (; i < n; ++i) sum += static_cast<double>(std::fabs(x[i]));
  return sum;
}

// r = 127 / clipped as a true float32 division (ATen's `scalar / tensor` operator would take a
// reciprocal and multiply, which rounds differently); activations are then multiplied by r.
at::Tensor activation_ratio(const at::Tensor& clipped) {
  return at::empty_like(clipped).fill_(127.0f).div_(clipped);
}

}  // namespace

at::Tensor weight_scale(const at::Tensor& weight, Granularity granularity, float eps) {
  check_floating("weight_scale", "weight", weight);
  check_min_rank("weight_scale", "weight", weight, 1);
  check_not_empty("weight_scale", "weight", weight);
  const at::Tensor w = as_float32(weight).contiguous();
  const float* data = w.data_ptr<float>();
  const int64_t rows = granularity == Granularity::kPerChannel ? weight.size(0) : 1;
  const int64_t cols = w.numel() / rows;
  // Sums of |W| over fixed chunks, added in chunk order: the same value whatever the thread
  // count (and, with abs_sum's fixed lanes, whatever the CPU).
  constexpr int64_t kChunk = int64_t{1} << 16;
  const int64_t chunks_per_row = (cols + kChunk - 1) / kChunk;
  std::vector<double> partial(static_cast<size_t>(rows * chunks_per_row));
  parallel_for_columns(
      rows * chunks_per_row, 1, num_threads(), kChunk, [&](int64_t begin, int64_t end) {
        for (int64_t c = begin; c < end; ++c) {
          const int64_t row = c / chunks_per_row;
          const int64_t first = (c % chunks_per_row) * kChunk;
          partial[c] = abs_sum(data + row * cols + first, std::min(kChunk, cols - first));
        }
      });
  at::Tensor mean = at::empty({rows}, at::kFloat);
  float* mean_data = mean.data_ptr<float>();
  for (int64_t row = 0; row < rows; ++row) {
    double sum = 0.0;
    for (int64_t c = 0; c < chunks_per_row; ++c) sum += partial[row * chunks_per_row + c];
    mean_data[row] = std::max(static_cast<float>(sum / static_cast<double>(cols)), eps);
  }
  return mean;
}

QuantizedTensor quantize_weight(const at::Tensor& weight, const BitQuantConfig& config) {
  config.validate();
  at::Tensor g = weight_scale(weight, config.weight_granularity, config.eps);
  // torch.round rounds half to even, as the contract requires.
  at::Tensor q = (as_float32(weight) / scale_for_rows(g, weight.dim())).round().clamp(-1, 1);
  return {q.to(at::kChar), g};
}

at::Tensor dequantize_weight(const at::Tensor& q, const at::Tensor& scale) {
  check_min_rank("dequantize_weight", "q", q, 1);
  if (scale.dim() != 1 || (scale.size(0) != 1 && scale.size(0) != q.size(0))) {
    throw ShapeError(absl::StrCat("dequantize_weight: scale has shape ", shape_string(scale),
                                  ", expected [1] or [", q.size(0), "] for weights of shape ",
                                  shape_string(q)));
  }
  return q.to(at::kFloat) * scale_for_rows(scale, q.dim());
}

at::Tensor activation_scale(const at::Tensor& x, Granularity granularity, float eps) {
  check_floating("activation_scale", "x", x);
  check_min_rank("activation_scale", "x", x, 1);
  return clipped_absmax(x, granularity, eps) / 127.0f;
}

QuantizedTensor quantize_x(const at::Tensor& x, const BitQuantConfig& config) {
  config.validate();
  check_floating("quantize_x", "x", x);
  check_min_rank("quantize_x", "x", x, 1);
  const at::Tensor clipped = clipped_absmax(x, config.activation_granularity, config.eps);
  const at::Tensor r = activation_ratio(clipped);
  at::Tensor q = (as_float32(x) * r).round().clamp(-127, 127).to(at::kChar);
  return {q, clipped / 127.0f};
}

namespace {

// Rounds half to even with float adds: for |v| <= 2^22, adding and removing 1.5 * 2^23 leaves
// v rounded to an integer in the default rounding mode, with no libm call, so the loop below
// vectorizes. (-0.3 comes out as +0, as the round trip through an integer gives.)
inline float round_half_even_small(float v) {
  constexpr float kMagic = 12582912.0f;  // 1.5 * 2^23
  return (v + kMagic) - kMagic;
}

// v clamped to [-limit, limit] with plain comparisons, which compile to vector min/max
// (std::fmin is a libm call that keeps the loop scalar).
inline float clamp(float v, float limit) { return v < -limit ? -limit : (v > limit ? limit : v); }

// out[i] = clamp(round_half_even(in[i] op factor), -limit, limit) * scale over n values, op
// being / (divide) or *. Clamping to limit + 0.5 first keeps the rounding in range and changes
// no result.
BITLAB_MULTIVERSION
void fake_quantize_span(const float* in, float* out, int64_t n, float factor, float scale,
                        float limit, bool divide) {
  const float bound = limit + 0.5f;
  if (divide) {
    for (int64_t i = 0; i < n; ++i) {
      out[i] = clamp(round_half_even_small(clamp(in[i] / factor, bound)), limit) * scale;
    }
  } else {
    for (int64_t i = 0; i < n; ++i) {
      out[i] = clamp(round_half_even_small(clamp(in[i] * factor, bound)), limit) * scale;
    }
  }
}

// out[i] = clamp(round_half_even(in[i] op factor[r]), -limit, limit) * scale[r] over the rows
// of `in` (factor.numel() rows), op being / for weights and * for activations. The float operations
// are those of quantize-then-dequantize in the same order, so the output is bit for bit the
// same, in one pass instead of six.
// `reuse`, if given, is written instead of fresh memory when it fits.
template <bool kDivide>
at::Tensor fake_quantize_rows(const at::Tensor& in, const at::Tensor& factor,
                              const at::Tensor& scale, float limit,
                              const at::Tensor* reuse = nullptr) {
  const at::Tensor src = as_float32(in).contiguous();
  const bool fits = reuse != nullptr && reuse->defined() && reuse->is_contiguous() &&
                    reuse->scalar_type() == at::kFloat && reuse->device() == src.device() &&
                    reuse->numel() == src.numel();
  at::Tensor out = fits ? reuse->view(src.sizes()) : at::empty_like(src);
  const int64_t numel = src.numel();
  if (numel == 0) return out;
  const int64_t cols = numel / factor.numel();
  const at::Tensor f = factor.contiguous();
  const at::Tensor s = scale.contiguous();
  const float* in_data = src.data_ptr<float>();
  const float* f_data = f.data_ptr<float>();
  const float* s_data = s.data_ptr<float>();
  float* out_data = out.data_ptr<float>();
  // Split the elements, not the rows: a per-tensor scale is one row of everything.
  parallel_for_columns(numel, 4096, num_threads(), 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end;) {
      const int64_t r = i / cols;
      const int64_t row_end = std::min(end, (r + 1) * cols);
      fake_quantize_span(in_data + i, out_data + i, row_end - i, f_data[r], s_data[r], limit,
                         kDivide);
      i = row_end;
    }
  });
  return out;
}

}  // namespace

void fake_quantize_weight_into(const at::Tensor& weight, const BitQuantConfig& config,
                               at::Tensor& out) {
  config.validate();
  const at::Tensor g = weight_scale(weight, config.weight_granularity, config.eps);
  // Per tensor, one row holds everything; per channel, one row per output channel.
  out = fake_quantize_rows</*kDivide=*/true>(weight, g, g, 1.0f, &out).view(weight.sizes());
}

at::Tensor fake_quantize_weight(const at::Tensor& weight, const BitQuantConfig& config) {
  at::Tensor out;
  fake_quantize_weight_into(weight, config, out);
  return out;
}

at::Tensor fake_quantize_x(const at::Tensor& x, const BitQuantConfig& config) {
  config.validate();
  check_floating("fake_quantize_x", "x", x);
  check_min_rank("fake_quantize_x", "x", x, 1);
  const at::Tensor clipped = clipped_absmax(x, config.activation_granularity, config.eps);
  const at::Tensor r = activation_ratio(clipped);
  const at::Tensor s = clipped / 127.0f;
  return fake_quantize_rows</*kDivide=*/false>(x, r.reshape({-1}), s.reshape({-1}), 127.0f)
      .view(x.sizes());
}

at::Tensor dequantize_x(const at::Tensor& q, const at::Tensor& scale) {
  return q.to(at::kFloat) * scale.to(at::kFloat);
}

}  // namespace bitlab
