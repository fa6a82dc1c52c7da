#include "bitlayers/bit_embedding.h"

#include <cmath>
#include <vector>

#include <ATen/ops/embedding.h>
#include <ATen/ops/empty_like.h>
#include <torch/nn/init.h>

#include "absl/strings/str_cat.h"
#include "bitcore/bitlinear.h"
#include "bitcore/errors.h"
#include "bitcore/packing.h"
#include "bitcore/straight_through.h"
#include "bitcore/tensor_checks.h"
#include "bitlayers/deployed_layout.h"
#include "bitlayers/deployed_skeleton.h"

namespace bitlab {
namespace {

constexpr const char* kForward = "BitEmbedding::forward";

}  // namespace

BitEmbeddingOptions BitEmbeddingOptions::from_torch(const torch::nn::EmbeddingOptions& options) {
  if (options.sparse()) {
    throw BitLabError(
        "BitEmbeddingOptions::from_torch: the embedding has sparse = true; sparse gradients are "
        "not supported (the ternary table trains through a dense straight-through estimator)");
  }
  return BitEmbeddingOptions(options.num_embeddings(), options.embedding_dim())
      .padding_idx(options.padding_idx())
      .max_norm(options.max_norm())
      .norm_type(options.norm_type())
      .scale_grad_by_freq(options.scale_grad_by_freq());
}

BitEmbeddingImpl::BitEmbeddingImpl(const BitEmbeddingOptions& options_) : options(options_) {
  reset();
}

int64_t BitEmbeddingImpl::padding_row() const {
  if (!options.padding_idx().has_value()) return -1;
  const int64_t n = options.num_embeddings();
  const int64_t index = *options.padding_idx();
  if (index < -n || index >= n) {
    throw BitLabError(absl::StrCat("BitEmbedding: padding_idx = ", index,
                                   " is out of range: expected a value in [", -n, ", ", n,
                                   ") for num_embeddings = ", n));
  }
  return index < 0 ? index + n : index;
}

void BitEmbeddingImpl::check_norm_options() const {
  if (options.max_norm().has_value() && !(*options.max_norm() > 0.0)) {
    throw BitLabError(absl::StrCat("BitEmbedding: max_norm = ", *options.max_norm(),
                                   ", expected a positive value (or none)"));
  }
  if (!(options.norm_type() > 0.0)) {
    throw BitLabError(absl::StrCat("BitEmbedding: norm_type = ", options.norm_type(),
                                   ", expected a positive p (infinity allowed)"));
  }
}

void BitEmbeddingImpl::reset() {
  if (options.num_embeddings() <= 0 || options.embedding_dim() <= 0) {
    throw BitLabError(
        absl::StrCat("BitEmbedding: num_embeddings and embedding_dim must be positive, got ",
                     options.num_embeddings(), " and ", options.embedding_dim()));
  }
  const int64_t pad = padding_row();
  if (pad >= 0) options.padding_idx(pad);
  check_norm_options();
  options.quant_config().validate();
  packed_tracker_ = internal::PackedWeightTracker();
  const int64_t n = options.num_embeddings();
  if (building_deployed_skeleton()) {  // born deployed, as deploy() leaves a layer
    weight = register_parameter("weight", torch::empty({0}), /*requires_grad=*/false);
    qweight = register_buffer("qweight",
                              torch::empty({n, (options.embedding_dim() + 3) / 4}, torch::kByte));
    qweight_scale = register_buffer(
        "qweight_scale", torch::empty({internal::deployed_scale_count(options.quant_config(), n)}));
    torch::nn::Module::train(false);
    return;
  }
  // Every name is registered whatever the options, so state-dict keys never depend on them.
  weight = register_parameter("weight",
                              torch::empty({options.num_embeddings(), options.embedding_dim()}));
  qweight = register_buffer("qweight", torch::empty({0}, torch::kByte));
  qweight_scale = register_buffer("qweight_scale", torch::empty({0}));
  reset_parameters();
}

void BitEmbeddingImpl::reset_parameters() {
  torch::NoGradGuard no_grad;
  torch::nn::init::normal_(weight);
  const int64_t pad = padding_row();
  if (pad >= 0) weight[pad].fill_(0);
  packed_tracker_.invalidate();
}

void BitEmbeddingImpl::pretty_print(std::ostream& stream) const {
  stream << "bitlab::BitEmbedding(num_embeddings=" << options.num_embeddings()
         << ", embedding_dim=" << options.embedding_dim() << ", padding_idx=";
  if (options.padding_idx().has_value()) {
    stream << *options.padding_idx();
  } else {
    stream << "none";
  }
  if (options.max_norm().has_value()) {
    stream << ", max_norm=" << *options.max_norm() << ", norm_type=" << options.norm_type();
  }
  if (options.scale_grad_by_freq()) stream << ", scale_grad_by_freq=true";
  stream << ", quant=" << options.quant_config().to_string() << ", deployed=" << std::boolalpha
         << is_deployed() << ")";
}

torch::Tensor BitEmbeddingImpl::checked_indices(const torch::Tensor& indices) const {
  check_defined(kForward, "indices", indices);
  if (!at::isIntegralType(indices.scalar_type(), /*includeBool=*/false)) {
    throw ShapeError(absl::StrCat(kForward, ": indices have dtype ",
                                  c10::toString(indices.scalar_type()),
                                  ", expected an integer tensor (kLong or kInt)"));
  }
  check_cpu(kForward, "indices", indices);
  // torch's embedding and index_select take kLong or kInt; narrower integers widen losslessly.
  const torch::Tensor index =
      indices.scalar_type() == torch::kLong || indices.scalar_type() == torch::kInt
          ? indices
          : indices.to(torch::kLong);
  if (index.numel() == 0) return index;
  const int64_t n = options.num_embeddings();
  const int64_t low = index.min().item<int64_t>();
  const int64_t high = index.max().item<int64_t>();
  if (low < 0 || high >= n) {
    // Name the first offending index in row-major order, and where it is.
    const torch::Tensor flat = index.reshape({-1});
    const torch::Tensor bad = flat.lt(0).logical_or(flat.ge(n)).nonzero();
    const int64_t position = bad[0][0].item<int64_t>();
    throw BitLabError(absl::StrCat(kForward, ": index ", flat[position].item<int64_t>(),
                                   " (element ", position, " of indices with shape ",
                                   shape_string(indices), ") is out of range [0, ", n,
                                   ") for num_embeddings = ", n));
  }
  return index;
}

torch::Tensor BitEmbeddingImpl::forward(const torch::Tensor& indices) {
  const torch::Tensor index = checked_indices(indices);
  check_norm_options();
  torch::Tensor vectors;
  // A layer that holds deployed weights (deploy(), or a deployed state dict loaded into it)
  // has no float table to train: it runs the packed path in either mode.
  if (is_training() && !is_deployed()) {
    check_cpu(kForward, "weight", weight);
    // The ids are looked up in the fake-quantized table through the straight-through
    // estimator: torch's embedding backward (padding_idx, scale_grad_by_freq and all) is then
    // exactly the gradient a float table holding those values gets, and the latent weight
    // receives it as is. Quantizing the whole table costs one pass per step, as BitLinear's
    // weight does; a dense embedding gradient touches the whole table anyway.
    const torch::Tensor table = ste_fake_quantize_weight(weight, options.quant_config());
    vectors = at::embedding(table, index, padding_row(), options.scale_grad_by_freq(),
                            /*sparse=*/false);
  } else {
    refresh_packed_weights();
    vectors = lookup_packed(index);
  }
  return apply_max_norm(vectors);
}

torch::Tensor BitEmbeddingImpl::apply_max_norm(const torch::Tensor& vectors) const {
  if (!options.max_norm().has_value() || vectors.numel() == 0) return vectors;
  // max_norm acts on the vectors the layer returns, not on the table. libtorch renormalizes
  // the looked-up rows of its weight in place before the lookup; here that would rescale the
  // latent float rows, and quantization does not commute with it: per tensor, the absmean
  // scale g of the whole table moves and every row's ternary values can change; per row, a
  // row scaled by c < 1 re-quantizes to the same ternary values with scale c * g, whose norm
  // is not max_norm. An eval-mode lookup could not do it at all without the float table. So
  // each mode quantizes the same latent table and caps the returned vectors the same way,
  // and eval and deploy stay equal to training.
  //
  // libtorch's arithmetic: the norm in float32, the factor in double, the product in float32.
  const double max_norm = *options.max_norm();
  torch::Tensor factor;
  {
    // The factor is a constant for autograd: gradients flow through `vectors` scaled by it.
    torch::NoGradGuard no_grad;
    const torch::Tensor norms =
        vectors.detach().norm(options.norm_type(), {-1}, /*keepdim=*/true).to(torch::kDouble);
    // A true division (ATen's `scalar / tensor` multiplies by a reciprocal).
    factor = at::empty_like(norms)
                 .fill_(max_norm)
                 .div_(norms + 1e-7)
                 .masked_fill_(norms.le(max_norm), 1.0)
                 .to(torch::kFloat);
  }
  return vectors * factor;
}

void BitEmbeddingImpl::refresh_packed_weights() {
  if (is_deployed()) return;
  const BitQuantConfig& config = options.quant_config();
  // Stale after training (train(false) resets the version), after an in-place change made in
  // eval mode (copy_ moves the version counter), after set_data() swapped the storage, or after
  // the weight quantization settings changed.
  if (!packed_tracker_.stale(weight, qweight, config)) return;
  check_dtype("BitEmbedding", "weight", weight, torch::kFloat);
  if (weight.dim() != 2 || weight.size(0) != options.num_embeddings() ||
      weight.size(1) != options.embedding_dim()) {
    throw ShapeError(absl::StrCat("BitEmbedding: weight has shape ", shape_string(weight),
                                  ", expected [", options.num_embeddings(), ", ",
                                  options.embedding_dim(), "]"));
  }
  bitlinear::PreparedWeights prepared = bitlinear::prepare_weights(weight, config);
  torch::NoGradGuard no_grad;
  qweight.set_data(prepared.qweight);
  qweight_scale.set_data(prepared.qweight_scale);
  packed_tracker_.mark_packed(weight, config);
}

torch::Tensor BitEmbeddingImpl::lookup_packed(const torch::Tensor& indices) const {
  const int64_t n = options.num_embeddings();
  const int64_t dim = options.embedding_dim();
  // The buffers may come from a state dict: check them before trusting their shapes.
  check_dtype(kForward, "qweight", qweight, torch::kByte);
  if (qweight.dim() != 2 || qweight.size(0) != n || qweight.size(1) != (dim + 3) / 4) {
    throw ShapeError(absl::StrCat(kForward, ": qweight has shape ", shape_string(qweight),
                                  ", expected [", n, ", ", (dim + 3) / 4, "]"));
  }
  check_dtype(kForward, "qweight_scale", qweight_scale, torch::kFloat);
  if (qweight_scale.dim() != 1 || (qweight_scale.size(0) != 1 && qweight_scale.size(0) != n)) {
    throw ShapeError(absl::StrCat(kForward, ": qweight_scale has shape ",
                                  shape_string(qweight_scale), ", expected [1] or [", n, "]"));
  }
  torch::NoGradGuard no_grad;
  const torch::Tensor rows = indices.reshape({-1});
  // Only the looked-up rows are unpacked; q * g in float32 is what fake quantization computes.
  const torch::Tensor values = unpack_t2(qweight.index_select(0, rows), dim).to(torch::kFloat);
  const torch::Tensor scale =
      qweight_scale.size(0) == 1 ? qweight_scale : qweight_scale.index_select(0, rows).unsqueeze(1);
  std::vector<int64_t> shape = indices.sizes().vec();
  shape.push_back(dim);
  return (values * scale).view(shape);
}

void BitEmbeddingImpl::train(bool on) {
  if (on && is_deployed()) {
    throw BitLabError(
        "BitEmbedding: train() after deploy(): the float table was freed when the layer was "
        "deployed; train a copy made before deploy() instead");
  }
  // Leaving training marks the packed table stale. The version counter cannot be relied on
  // for this: libtorch's optimizers update parameters through .data(), which does not bump it.
  if (!on && is_training()) packed_tracker_.invalidate();
  torch::nn::Module::train(on);
}

void BitEmbeddingImpl::deploy() {
  if (is_deployed()) return;
  // Always repack: an optimizer step since the last eval forward need not have moved the
  // version counter, and deploy() may be called straight from training.
  packed_tracker_.invalidate();
  torch::nn::Module::train(false);
  refresh_packed_weights();
  torch::NoGradGuard no_grad;
  weight.set_data(torch::empty({0}));
  weight.set_requires_grad(false);
}

int64_t BitEmbeddingImpl::float_bytes() const {
  return 4 * options.num_embeddings() * options.embedding_dim();
}

int64_t BitEmbeddingImpl::deployed_bytes() const {
  const int64_t n = options.num_embeddings();
  const int64_t scales = internal::deployed_scale_count(options.quant_config(), n);
  return n * ((options.embedding_dim() + 3) / 4) + 4 * scales;
}

std::shared_ptr<BitEmbeddingImpl> BitEmbeddingImpl::from_torch(
    const torch::nn::EmbeddingImpl& embedding, const BitQuantConfig& config) {
  auto layer = std::make_shared<BitEmbeddingImpl>(
      BitEmbeddingOptions::from_torch(embedding.options).quant_config(config));
  if (layer->is_deployed()) return layer;  // a skeleton (deployed_skeleton.h): nothing to copy
  const torch::Tensor& source = embedding.weight;
  if (!source.defined() || source.dim() != 2 || source.size(0) != layer->weight.size(0) ||
      source.size(1) != layer->weight.size(1)) {
    throw ShapeError(absl::StrCat("BitEmbeddingImpl::from_torch: the embedding's weight has shape ",
                                  shape_string(source), ", expected [", layer->weight.size(0), ", ",
                                  layer->weight.size(1), "]"));
  }
  torch::NoGradGuard no_grad;
  layer->weight.copy_(source);
  layer->weight.set_requires_grad(source.requires_grad());
  return layer;
}

}  // namespace bitlab
