#include "bitzoo/transformer/bert.h"

#include <algorithm>
#include <memory>

#include <torch/nn/functional/activation.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>

#include "absl/strings/str_cat.h"
#include "bitcore/errors.h"
#include "bitlayers/deployed_skeleton.h"
#include "bitmodels/config_fields.h"
#include "bitmodels/model_registry.h"
#include "bitzoo/transformer/encoder_block.h"

namespace bitlab {
namespace bitzoo {
namespace {

// BERT's LayerNorm epsilon.
constexpr double kNormEps = 1e-12;

torch::nn::LayerNorm bert_layer_norm(int64_t hidden_size) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({hidden_size}).eps(kNormEps));
}

// Throws ShapeError unless `ids` is [B, T] int64 with `sizes` (when given) and every value in
// [0, limit); `what` names the argument and `limit_name` the bound in the message.
void check_ids(const torch::Tensor& ids, const char* what, int64_t limit, const char* limit_name,
               c10::optional<torch::IntArrayRef> sizes = c10::nullopt) {
  if (!ids.defined() || ids.scalar_type() != torch::kLong || ids.dim() != 2 ||
      (sizes.has_value() && ids.sizes() != *sizes)) {
    throw ShapeError(absl::StrCat("Bert: expected ", what, " ",
                                  sizes.has_value() ? c10::str(*sizes) : "[B, T]", " int64, got ",
                                  describe_tensor(ids)));
  }
  if (ids.numel() == 0) return;
  const int64_t lowest = ids.min().item<int64_t>();
  const int64_t highest = ids.max().item<int64_t>();
  if (lowest < 0 || highest >= limit) {
    throw ShapeError(absl::StrCat("Bert: expected ", what, " in [0, ", limit_name, " = ", limit,
                                  "), got values in [", lowest, ", ", highest, "]"));
  }
}

}  // namespace

void BertOptions::validate(const std::string& context) const {
  if (hidden_size() % num_heads() != 0) {
    throw ConfigError(absl::StrCat(context, ": field 'hidden_size' must be a multiple of field ",
                                   "'num_heads', got hidden_size = ", hidden_size(),
                                   ", num_heads = ", num_heads()));
  }
  if (pad_token_id() < 0 || pad_token_id() >= vocab_size()) {
    throw ConfigError(absl::StrCat(context, ": field 'pad_token_id' must be in [0, vocab_size = ",
                                   vocab_size(), "), got ", pad_token_id()));
  }
}

BertEmbeddingsImpl::BertEmbeddingsImpl(const BertOptions& options) {
  const int64_t H = options.hidden_size();
  word_embeddings = torch::nn::AnyModule(register_module(
      "word_embeddings", make_embedding(torch::nn::EmbeddingOptions(options.vocab_size(), H)
                                            .padding_idx(options.pad_token_id()))));
  position_embeddings = torch::nn::AnyModule(
      register_module("position_embeddings",
                      make_embedding(torch::nn::EmbeddingOptions(options.max_position(), H))));
  token_type_embeddings = torch::nn::AnyModule(
      register_module("token_type_embeddings",
                      make_embedding(torch::nn::EmbeddingOptions(options.type_vocab_size(), H))));
  norm = register_module("norm", bert_layer_norm(H));
}

torch::Tensor BertEmbeddingsImpl::forward(const torch::Tensor& ids,
                                          const torch::Tensor& token_type_ids) {
  const torch::Tensor positions = torch::arange(ids.size(1), ids.options());
  return norm(word_embeddings.forward(ids) + position_embeddings.forward(positions) +
              token_type_embeddings.forward(token_type_ids));
}

void BertEmbeddingsImpl::replace_child(const std::string& name,
                                       const torch::nn::AnyModule& replacement) {
  if (name == "word_embeddings") {
    word_embeddings = replacement;
  } else if (name == "position_embeddings") {
    position_embeddings = replacement;
  } else if (name == "token_type_embeddings") {
    token_type_embeddings = replacement;
  } else {
    throw_no_swappable_child("BertEmbeddings", name);
  }
}

MlmHeadImpl::MlmHeadImpl(const BertOptions& options) {
  const int64_t H = options.hidden_size();
  dense =
      torch::nn::AnyModule(register_module("dense", make_linear(torch::nn::LinearOptions(H, H))));
  norm = register_module("norm", bert_layer_norm(H));
  decoder = torch::nn::AnyModule(
      register_module("decoder", make_linear(torch::nn::LinearOptions(H, options.vocab_size()))));
}

torch::Tensor MlmHeadImpl::forward(const torch::Tensor& hidden) {
  return decoder.forward(norm(torch::nn::functional::gelu(dense.forward(hidden))));
}

void MlmHeadImpl::replace_child(const std::string& name, const torch::nn::AnyModule& replacement) {
  if (name == "dense") {
    dense = replacement;
  } else if (name == "decoder") {
    decoder = replacement;
  } else {
    throw_no_swappable_child("MlmHead", name);
  }
}

Bert::Bert(const BertOptions& options_) : options(options_) {
  options.validate();
  const int64_t H = options.hidden_size();
  embeddings = register_module("embeddings", BertEmbeddings(options));
  blocks = register_module(
      "blocks",
      make_encoder_blocks(EncoderBlockOptions(H, options.num_heads(), options.intermediate_size())
                              .norm_eps(kNormEps),
                          options.num_layers()));
  norm = register_module("norm", bert_layer_norm(H));
  mlm_head = register_module("mlm_head", MlmHead(options));
  init_transformer_weights(*this);
}

torch::Tensor Bert::forward(const torch::Tensor& input_ids) {
  // forward_with_mask checks input_ids (an undefined one before it is compared).
  const torch::Tensor not_padding =
      input_ids.defined() ? input_ids != options.pad_token_id() : torch::Tensor();
  return forward_with_mask(input_ids, not_padding);
}

torch::Tensor Bert::forward_with_mask(const torch::Tensor& input_ids,
                                      const torch::Tensor& attention_mask,
                                      const torch::Tensor& token_type_ids) {
  check_ids(input_ids, "input_ids", options.vocab_size(), "vocab_size");
  if (input_ids.size(1) < 1 || input_ids.size(1) > options.max_position()) {
    throw ShapeError(absl::StrCat("Bert: expected input_ids of 1 to max_position = ",
                                  options.max_position(), " tokens, got ", input_ids.size(1)));
  }
  if (!attention_mask.defined() || attention_mask.sizes() != input_ids.sizes() ||
      attention_mask.is_floating_point() || attention_mask.is_complex()) {
    throw ShapeError(absl::StrCat("Bert: expected attention_mask ", c10::str(input_ids.sizes()),
                                  " of an integer or bool dtype (like input_ids), got ",
                                  describe_tensor(attention_mask)));
  }
  torch::Tensor types = token_type_ids;
  if (types.defined()) {
    check_ids(types, "token_type_ids", options.type_vocab_size(), "type_vocab_size",
              input_ids.sizes());
  } else {
    types = torch::zeros_like(input_ids);
  }
  const torch::Tensor hidden = run_encoder_blocks(blocks, embeddings(input_ids, types),
                                                  /*key_padding_mask=*/attention_mask == 0);
  return mlm_head(norm(hidden));
}

torch::Tensor Bert::example_input(int64_t batch) const {
  // Uniform over the vocab_size - 1 ids other than pad_token_id: draw from one fewer and skip
  // the pad id.
  const torch::Tensor ids =
      torch::randint(0, options.vocab_size() - 1,
                     {batch, std::min<int64_t>(16, options.max_position())}, torch::kLong);
  return ids + (ids >= options.pad_token_id()).to(torch::kLong);
}

std::vector<ConversionRule> Bert::default_rules() const {
  ConversionRule keep;
  keep.pattern = "^embeddings\\.|^mlm_head\\.decoder$";
  keep.keep_float = true;
  keep.name = "BERT embeddings and MLM decoder";
  return {keep};
}

BITLAB_REGISTER_MODEL(
    "bert", "BERT-style encoder with a masked-LM head (pre-norm; BERT-mini sized by default)",
    [](ConfigFields& fields) -> std::shared_ptr<BitModel> {
      BertOptions options;
      // vocab_size >= 2: example inputs and forward() need an id besides the pad id.
      options.vocab_size(fields.get_int("vocab_size", options.vocab_size(), 2));
      options.hidden_size(fields.get_int("hidden_size", options.hidden_size(), 1))
          .num_layers(fields.get_int("num_layers", options.num_layers(), 1))
          .num_heads(fields.get_int("num_heads", options.num_heads(), 1))
          .intermediate_size(fields.get_int("intermediate_size", options.intermediate_size(), 1))
          .max_position(fields.get_int("max_position", options.max_position(), 1))
          .type_vocab_size(fields.get_int("type_vocab_size", options.type_vocab_size(), 1))
          .pad_token_id(
              fields.get_int("pad_token_id", options.pad_token_id(), 0, options.vocab_size() - 1));
      options.validate(fields.context());
      auto model = std::make_shared<Bert>(options);
      model->config.model_type = "bert";
      return model;
    });

}  // namespace bitzoo
}  // namespace bitlab
