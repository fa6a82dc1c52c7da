#include "bitlayers/bit_attention.h"

#include <cmath>
#include <limits>

#include <ATen/ops/dropout.h>
#include <ATen/ops/matmul.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/softmax.h>
#include <torch/nn/init.h>

#include "absl/strings/str_cat.h"
#include "bitcore/errors.h"
#include "bitcore/tensor_checks.h"

namespace bitlab {
namespace {

constexpr char kLayer[] = "BitMultiheadAttention";

// query, key and value are (length, N, E).
void check_sequence(const char* name, const at::Tensor& t, int64_t embed_dim) {
  check_floating(kLayer, name, t);
  if (t.dim() != 3 || t.size(2) != embed_dim) {
    throw ShapeError(absl::StrCat(kLayer, ": ", name, " has shape ", shape_string(t),
                                  ", expected (length, N, embed_dim = ", embed_dim, ")"));
  }
}

}  // namespace

BitMultiheadAttentionImpl::BitMultiheadAttentionImpl(const BitMultiheadAttentionOptions& options_)
    : options(options_) {
  reset();
}

void BitMultiheadAttentionImpl::reset() {
  const int64_t embed_dim = options.embed_dim();
  const int64_t num_heads = options.num_heads();
  if (embed_dim <= 0 || num_heads <= 0) {
    throw BitLabError(absl::StrCat(kLayer, ": embed_dim and num_heads must be positive, got ",
                                   embed_dim, " and ", num_heads));
  }
  if (embed_dim % num_heads != 0) {
    throw BitLabError(absl::StrCat(kLayer, ": embed_dim = ", embed_dim,
                                   " is not divisible by num_heads = ", num_heads));
  }
  if (!(options.dropout() >= 0.0 && options.dropout() <= 1.0)) {
    throw BitLabError(absl::StrCat(kLayer, ": dropout must be in [0, 1], got ", options.dropout()));
  }
  options.quant_config().validate();
  const auto projection = [&] {
    return BitLinear(BitLinearOptions(embed_dim, embed_dim)
                         .bias(options.bias())
                         .quant_config(options.quant_config()));
  };
  q_proj = register_module("q_proj", projection());
  k_proj = register_module("k_proj", projection());
  v_proj = register_module("v_proj", projection());
  sub_norm = nullptr;
  if (options.sub_norm()) sub_norm = register_module("sub_norm", BitRMSNorm(embed_dim));
  out_proj = register_module("out_proj", projection());
  reset_parameters();
}

void BitMultiheadAttentionImpl::reset_parameters() {
  torch::NoGradGuard no_grad;
  for (BitLinear* projection : {&q_proj, &k_proj, &v_proj, &out_proj}) {
    torch::nn::init::xavier_uniform_((*projection)->weight);
    if ((*projection)->bias.defined()) torch::nn::init::zeros_((*projection)->bias);
  }
  if (sub_norm) sub_norm->reset_parameters();
}

void BitMultiheadAttentionImpl::pretty_print(std::ostream& stream) const {
  stream << "bitlab::BitMultiheadAttention(embed_dim=" << options.embed_dim()
         << ", num_heads=" << options.num_heads() << ", dropout=" << options.dropout()
         << ", bias=" << std::boolalpha << options.bias() << ", sub_norm=" << options.sub_norm()
         << ", causal=" << options.causal() << ", quant=" << options.quant_config().to_string()
         << ")";
}

torch::Tensor BitMultiheadAttentionImpl::causal_mask(int64_t L, int64_t S) {
  if (L < 0 || S < 0) {
    throw BitLabError(
        absl::StrCat(kLayer, "::causal_mask: L and S must not be negative, got ", L, " and ", S));
  }
  return at::ones({L, S}, at::kBool).triu(/*diagonal=*/1);
}

std::tuple<torch::Tensor, torch::Tensor> BitMultiheadAttentionImpl::forward(
    const torch::Tensor& query, const torch::Tensor& key, const torch::Tensor& value,
    const torch::Tensor& key_padding_mask, bool need_weights, const torch::Tensor& attn_mask,
    bool average_attn_weights) {
  const int64_t E = options.embed_dim();
  const int64_t H = options.num_heads();
  const int64_t D = E / H;
  check_sequence("query", query, E);
  check_sequence("key", key, E);
  check_sequence("value", value, E);
  const int64_t L = query.size(0);
  const int64_t N = query.size(1);
  const int64_t S = key.size(0);
  if (key.size(1) != N) {
    throw ShapeError(absl::StrCat(kLayer, ": key has shape ", shape_string(key),
                                  ", expected batch size N = ", N, " (query's dimension 1)"));
  }
  if (value.sizes() != key.sizes()) {
    throw ShapeError(absl::StrCat(kLayer, ": value has shape ", shape_string(value),
                                  ", expected the shape of key ", shape_string(key)));
  }
  if (S == 0) {
    throw ShapeError(absl::StrCat(kLayer, ": key has shape ", shape_string(key),
                                  ", expected at least one key (S > 0)"));
  }

  // Masks, broadcastable to the scores' (N, H, L, S): `blocked` (bool, true = masked) and
  // `additive` (floating, added to the scores).
  at::Tensor blocked;
  at::Tensor additive;
  const auto block = [&blocked](const at::Tensor& mask) {
    blocked = blocked.defined() ? blocked.logical_or(mask) : mask;
  };
  if (key_padding_mask.defined()) {
    check_dtype(kLayer, "key_padding_mask", key_padding_mask, at::kBool);
    if (key_padding_mask.dim() != 2 || key_padding_mask.size(0) != N ||
        key_padding_mask.size(1) != S) {
      throw ShapeError(absl::StrCat(kLayer, ": key_padding_mask has shape ",
                                    shape_string(key_padding_mask), ", expected [N, S] = [", N,
                                    ", ", S, "]"));
    }
    block(key_padding_mask.reshape({N, 1, 1, S}));
  }
  if (attn_mask.defined()) {
    const bool is_bool = attn_mask.scalar_type() == at::kBool;
    if (!is_bool && !at::isFloatingType(attn_mask.scalar_type())) {
      throw ShapeError(absl::StrCat(kLayer, ": attn_mask has dtype ",
                                    c10::toString(attn_mask.scalar_type()),
                                    ", expected Bool (true = masked) or a floating type (added)"));
    }
    at::Tensor mask;
    if (attn_mask.dim() == 2 && attn_mask.size(0) == L && attn_mask.size(1) == S) {
      mask = attn_mask.reshape({1, 1, L, S});
    } else if (attn_mask.dim() == 3 && attn_mask.size(0) == N * H && attn_mask.size(1) == L &&
               attn_mask.size(2) == S) {
      mask = attn_mask.reshape({N, H, L, S});
    } else {
      throw ShapeError(absl::StrCat(
          kLayer, ": attn_mask has shape ", shape_string(attn_mask), ", expected [L, S] = [", L,
          ", ", S, "] or [N * num_heads, L, S] = [", N * H, ", ", L, ", ", S, "]"));
    }
    if (is_bool) {
      block(mask);
    } else {
      additive = mask.to(query.scalar_type());
    }
  }
  if (options.causal()) block(causal_mask(L, S).to(query.device()).reshape({1, 1, L, S}));

  // A query with no unmasked key would get a softmax over nothing: NaN in torch.
  if (blocked.defined() || additive.defined()) {
    at::Tensor none_left = blocked;
    if (additive.defined()) {
      none_left =
          none_left.defined() ? none_left.logical_or(additive.isneginf()) : additive.isneginf();
    }
    const at::Tensor dead = none_left.all(/*dim=*/-1);
    if (dead.any().item<bool>()) {
      const at::Tensor first = dead.expand({N, H, L}).nonzero()[0];
      throw BitLabError(absl::StrCat(
          kLayer, ": every key is masked (by key_padding_mask, attn_mask or causal) for query ",
          first[2].item<int64_t>(), " of batch element ", first[0].item<int64_t>(), " in head ",
          first[1].item<int64_t>(),
          "; a softmax over no keys is undefined (torch returns NaN there). Leave at least one "
          "key unmasked for every query, e.g. let padded queries attend to themselves"));
    }
  }

  // (length, N, E) -> (N, H, length, D).
  const auto split_heads = [&](const at::Tensor& t, int64_t length) {
    return t.reshape({length, N, H, D}).permute({1, 2, 0, 3});
  };
  const at::Tensor q = split_heads(q_proj(query), L);
  const at::Tensor k = split_heads(k_proj(key), S);
  const at::Tensor v = split_heads(v_proj(value), S);

  const double scaling = 1.0 / std::sqrt(static_cast<double>(D));
  at::Tensor scores = at::matmul(q * scaling, k.transpose(-2, -1));  // (N, H, L, S)
  if (additive.defined()) scores = scores + additive;
  if (blocked.defined()) {
    scores = scores.masked_fill(blocked, -std::numeric_limits<double>::infinity());
  }
  at::Tensor weights = at::softmax(scores, /*dim=*/-1);
  if (is_training() && options.dropout() > 0.0) {
    weights = at::dropout(weights, options.dropout(), /*train=*/true);
  }
  at::Tensor output = at::matmul(weights, v).permute({2, 0, 1, 3}).reshape({L, N, E});
  if (sub_norm) output = sub_norm(output);
  output = out_proj(output);

  if (!need_weights) return std::make_tuple(output, at::Tensor());
  return std::make_tuple(output, average_attn_weights ? weights.mean(/*dim=*/1) : weights);
}

void BitMultiheadAttentionImpl::train(bool on) {
  if (on && is_deployed()) {
    throw BitLabError(absl::StrCat(
        kLayer,
        ": train() after deploy(): the projections' float weights were freed when the layer "
        "was deployed; train a copy made before deploy() instead"));
  }
  torch::nn::Module::train(on);
}

void BitMultiheadAttentionImpl::deploy() {
  for (BitLinear* projection : {&q_proj, &k_proj, &v_proj, &out_proj}) (*projection)->deploy();
  torch::nn::Module::train(false);
}

bool BitMultiheadAttentionImpl::is_deployed() const {
  return q_proj->is_deployed() && k_proj->is_deployed() && v_proj->is_deployed() &&
         out_proj->is_deployed();
}

std::shared_ptr<BitMultiheadAttentionImpl> BitMultiheadAttentionImpl::from_torch(
    const torch::nn::MultiheadAttentionImpl& mha, const BitQuantConfig& config) {
  const torch::nn::MultiheadAttentionOptions& source = mha.options;
  const int64_t E = source.embed_dim();
  const char* const where = "BitMultiheadAttention::from_torch";
  if (source.add_bias_kv()) {
    throw BitLabError(absl::StrCat(
        where,
        ": the source has add_bias_kv = true, which BitMultiheadAttention does not support "
        "(it needs add_bias_kv = false)"));
  }
  if (source.add_zero_attn()) {
    throw BitLabError(
        absl::StrCat(where,
                     ": the source has add_zero_attn = true, which BitMultiheadAttention does not "
                     "support (it needs add_zero_attn = false)"));
  }
  if (source.kdim() != E || source.vdim() != E || !mha._qkv_same_embed_dim) {
    throw BitLabError(absl::StrCat(where, ": the source has kdim = ", source.kdim(), " and vdim = ",
                                   source.vdim(), ", expected both equal to ", "embed_dim = ", E));
  }
  const bool bias = mha.in_proj_bias.defined();
  if (mha.out_proj->bias.defined() != bias) {
    throw BitLabError(absl::StrCat(where, ": the source has ", bias ? "an" : "no",
                                   " in_proj_bias but ", bias ? "no" : "an",
                                   " out_proj bias; BitMultiheadAttention has both or neither"));
  }
  auto layer = std::make_shared<BitMultiheadAttentionImpl>(
      BitMultiheadAttentionOptions(E, source.num_heads())
          .dropout(source.dropout())
          .bias(bias)
          .quant_config(config));
  // A skeleton (deployed_skeleton.h) is born deployed: nothing to copy.
  if (layer->q_proj->is_deployed()) return layer;
  torch::NoGradGuard no_grad;
  BitLinear* projections[] = {&layer->q_proj, &layer->k_proj, &layer->v_proj};
  for (int64_t i = 0; i < 3; ++i) {
    (*projections[i])->weight.copy_(mha.in_proj_weight.slice(/*dim=*/0, i * E, (i + 1) * E));
    if (bias) (*projections[i])->bias.copy_(mha.in_proj_bias.slice(/*dim=*/0, i * E, (i + 1) * E));
  }
  layer->out_proj->weight.copy_(mha.out_proj->weight);
  if (bias) layer->out_proj->bias.copy_(mha.out_proj->bias);
  layer->train(mha.is_training());
  return layer;
}

}  // namespace bitlab
