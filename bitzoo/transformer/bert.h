// Bert: a BERT-style bidirectional encoder with a masked-language-model head, registered as
// model type "bert" (defaults BERT-mini sized: 4 layers, hidden 256, 4 heads).
//
//   embeddings.word_embeddings        torch::nn::Embedding vocab_size -> hidden_size
//                                     (padding_idx = pad_token_id)
//   embeddings.position_embeddings    torch::nn::Embedding max_position -> hidden_size (learned)
//   embeddings.token_type_embeddings  torch::nn::Embedding type_vocab_size -> hidden_size
//   embeddings.norm                   torch::nn::LayerNorm of their sum
//   blocks.<i>                        EncoderBlocks (encoder_block.h: norm1, attn.{q,k,v,proj},
//                                     norm2, mlp.{fc1,fc2}, mlp hidden = intermediate_size)
//   norm                              final torch::nn::LayerNorm
//   mlm_head.dense, mlm_head.norm     Linear hidden -> hidden, GELU, LayerNorm (BERT's
//                                     "prediction head transform")
//   mlm_head.decoder                  torch::nn::Linear hidden_size -> vocab_size
// Every LayerNorm uses BERT's eps 1e-12; weights are initialized N(0, 0.02) like Hugging Face's.
//
// Differences from the original BERT, on purpose:
//   - Pre-norm blocks plus a final LayerNorm instead of BERT's post-norm: the block is the one
//     the ViT shares, and pre-norm is what BitNet-style ternary transformers train (the
//     normalized input of every projection keeps its activation quantization well scaled).
//   - The decoder's weight is not tied to the word embeddings: conversion treats the two layers
//     separately (the decoder would be ternarized or kept float independently of the table), so
//     a tie would not survive it. This adds vocab_size * hidden_size parameters.
//   - No dropout and no pooler / next-sentence head.
//
// default_rules() keep the three embeddings and mlm_head.decoder in float32; the blocks'
// Linears and mlm_head.dense convert.
//
// Config fields (the "architecture" object), with defaults:
//   vocab_size 30522, hidden_size 256, num_layers 4, num_heads 4, intermediate_size 1024,
//   max_position 512, type_vocab_size 2, pad_token_id 0 (< vocab_size).
// hidden_size must be a multiple of num_heads (ConfigError).
//
// Example:
//   bitlab::AutoBitConfig config;
//   config.model_type = "bert";
//   config.architecture = {{"vocab_size", 8000}};
//   auto model = bitlab::AutoBitModel::from_config(config);
//   torch::Tensor ids = model->example_input(/*batch=*/2);          // [2, 16] int64
//   torch::Tensor logits = model->forward(ids);                      // [2, 16, 8000]
//   // Explicit padding (1 = real token, 0 = padding) and segments:
//   auto& bert = dynamic_cast<bitlab::bitzoo::Bert&>(*model);
//   logits = bert.forward_with_mask(ids, torch::ones({2, 16}, torch::kLong));
#ifndef BITLAB_BITZOO_TRANSFORMER_BERT_H_
#define BITLAB_BITZOO_TRANSFORMER_BERT_H_

#include <cstdint>
#include <string>
#include <vector>

#include <torch/arg.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/any.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include "bitlayers/converter.h"
#include "bitmodels/bit_model.h"

namespace bitlab {
namespace bitzoo {

struct BertOptions {
  /// Throws ConfigError naming the fields when hidden_size is not a multiple of num_heads or
  /// pad_token_id is not below vocab_size. `context` prefixes the message.
  void validate(const std::string& context = "BertOptions") const;

  TORCH_ARG(int64_t, vocab_size) = 30522;
  TORCH_ARG(int64_t, hidden_size) = 256;
  TORCH_ARG(int64_t, num_layers) = 4;
  TORCH_ARG(int64_t, num_heads) = 4;
  TORCH_ARG(int64_t, intermediate_size) = 1024;
  /// Longest sequence: the number of position embeddings.
  TORCH_ARG(int64_t, max_position) = 512;
  /// Number of token types (segments).
  TORCH_ARG(int64_t, type_vocab_size) = 2;
  /// The id forward(input_ids) treats as padding; in [0, vocab_size).
  TORCH_ARG(int64_t, pad_token_id) = 0;
};

/// Word + position + token-type embeddings, then LayerNorm.
class BertEmbeddingsImpl : public torch::nn::Module, public SwappableChildren {
 public:
  explicit BertEmbeddingsImpl(const BertOptions& options);

  /// ids and token_type_ids [B, T] int64 (validated by Bert) -> [B, T, hidden_size].
  torch::Tensor forward(const torch::Tensor& ids, const torch::Tensor& token_type_ids);
  void replace_child(const std::string& name, const torch::nn::AnyModule& replacement) override;

  torch::nn::AnyModule word_embeddings;
  torch::nn::AnyModule position_embeddings;
  torch::nn::AnyModule token_type_embeddings;
  torch::nn::LayerNorm norm = nullptr;
};
TORCH_MODULE(BertEmbeddings);

/// dense -> GELU -> norm -> decoder: hidden states -> logits over the vocabulary.
class MlmHeadImpl : public torch::nn::Module, public SwappableChildren {
 public:
  explicit MlmHeadImpl(const BertOptions& options);

  torch::Tensor forward(const torch::Tensor& hidden);
  void replace_child(const std::string& name, const torch::nn::AnyModule& replacement) override;

  torch::nn::AnyModule dense;
  torch::nn::LayerNorm norm = nullptr;
  torch::nn::AnyModule decoder;
};
TORCH_MODULE(MlmHead);

class Bert : public BitModel {
 public:
  /// Throws ConfigError when `options` are inconsistent (BertOptions::validate).
  explicit Bert(const BertOptions& options = {});

  /// Token ids [B, T] int64 (1 <= T <= max_position, ids in [0, vocab_size)) -> MLM logits
  /// [B, T, vocab_size]; tokens equal to pad_token_id are padding (no token attends to them),
  /// all tokens are of type 0. Bad ids throw ShapeError naming the expected and the given.
  torch::Tensor forward(const torch::Tensor& input_ids) override;
  /// As forward(), with padding given by `attention_mask` [B, T] (any integer or bool dtype;
  /// nonzero = real token, 0 = padding) and optional segments `token_type_ids` [B, T] int64
  /// in [0, type_vocab_size) (undefined: all 0).
  torch::Tensor forward_with_mask(const torch::Tensor& input_ids,
                                  const torch::Tensor& attention_mask,
                                  const torch::Tensor& token_type_ids = {});
  /// [batch, min(16, max_position)] int64 ids drawn uniformly from the vocabulary without
  /// pad_token_id (with the default pad 0: torch::randint(1, vocab_size, ...)).
  torch::Tensor example_input(int64_t batch) const override;
  /// Keeps the three embeddings and mlm_head.decoder in float32.
  std::vector<ConversionRule> default_rules() const override;

  const BertOptions options;
  BertEmbeddings embeddings = nullptr;
  torch::nn::ModuleList blocks = nullptr;
  torch::nn::LayerNorm norm = nullptr;
  MlmHead mlm_head = nullptr;
};

}  // namespace bitzoo
}  // namespace bitlab

#endif  // BITLAB_BITZOO_TRANSFORMER_BERT_H_
