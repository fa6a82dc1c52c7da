// Gpt: a decoder-only language model in the style of BitNet b1.58, model type "gpt".
//
//   x = tok_embeddings(ids) + pos_embeddings(positions)           learned positions
//   for each of blocks.i:
//     x = x + attn(attn_norm(x))      causal self-attention:
//                                     o(sub_norm(softmax(q k^T / sqrt(d) + causal) v))
//     x = x + mlp(mlp_norm(x))        "relu2":  down(sub_norm(relu(up(h))^2))
//                                     "swiglu": down(sub_norm(silu(gate(h)) * up(h)))
//   logits = lm_head(norm(x))
//
// Every norm is a float32 BitRMSNorm, and one stands before every projection that gets
// quantized (BitNet b1.58's SubLN: the int8 activation scale then sees normalized inputs).
// The model is built in float32; BitConverter (or AutoBitModel) turns the Linear and, with
// ternary_embeddings, the Embedding layers ternary. Module paths, for conversion rules:
//   tok_embeddings, pos_embeddings                 torch::nn::Embedding
//   blocks.<i>.attn_norm, blocks.<i>.mlp_norm      BitRMSNorm
//   blocks.<i>.attn.{q,k,v,o}                      torch::nn::Linear without bias
//   blocks.<i>.attn.sub_norm                       BitRMSNorm before o
//   blocks.<i>.mlp.{gate,up,down}                  torch::nn::Linear without bias (gate: swiglu)
//   blocks.<i>.mlp.sub_norm                        BitRMSNorm before down
//   norm                                           BitRMSNorm
//   lm_head                                        torch::nn::Linear without bias
//
// Architecture fields (config.json "architecture"; all optional):
//   vocab_size         256 (ByteTokenizer)     context_length     256 (position table)
//   hidden_size        256                     num_layers         4
//   num_heads          4 (divides hidden_size)
//   mlp                "relu2" | "swiglu" (default "relu2")
//   intermediate_size  0 = 4 * hidden_size (the MLP's inner width, either variant)
//   ternary_embeddings false: default_rules() keep tok_embeddings, pos_embeddings and lm_head
//                      in float32 (as BitNet b1.58 does); true: default_rules() keep nothing,
//                      so the embedding tables become BitEmbedding and lm_head a BitLinear.
//
// Generation (CausalLM): the prompt runs through one forward that fills a KV cache (the keys
// and values of every layer, GptKVCache), then each new token runs alone against it.
//
// Activation scales matter for a causal model. With per-token scales ("ai8pc_*": one int8
// scale per row) or float32 activations ("af32_*") every token is quantized on its own, so
// the model is exactly causal and cached decoding computes the same projections as a full
// forward (up to float rounding in the attention products). With per-tensor scales ("ai8pt_*")
// one scale covers every row of a projection's input: later tokens move the quantization of
// earlier ones (causality holds only approximately), and a cached step, which quantizes the new
// token alone, differs slightly from the full forward over the whole sequence. Use "ai8pc_*"
// (AutoBitConfig's default) for language models.
//
// Example:
//   auto gpt = std::make_shared<bitlab::bitzoo::Gpt>(
//       bitlab::bitzoo::GptOptions().hidden_size(128).num_layers(2).mlp("swiglu"));
//   torch::Tensor logits = gpt->forward(gpt->example_input(/*batch=*/2));   // [2, 16, 256]
//   bitlab::BitConverter::convert(*gpt, bitlab::BitQuantConfig::from_string("ai8pc_wpt"),
//                                 gpt->default_rules());
//   bitlab::deploy_bit_layers(*gpt);
//   bitlab::GenerationOptions options;
//   options.do_sample = true;
//   options.top_k = 40;
//   torch::Tensor ids = gpt->generate(bitlab::ByteTokenizer().encode("Hello").unsqueeze(0),
//                                     options);   // [1, 5 + 32]
#ifndef BITLAB_BITZOO_GPT_GPT_H_
#define BITLAB_BITZOO_GPT_GPT_H_

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/arg.h>
#include <torch/nn/modules/container/any.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/types.h>

#include "bitlayers/bit_norm.h"
#include "bitlayers/converter.h"
#include "bitmodels/bit_model.h"
#include "bitmodels/causal_lm.h"
#include "bitmodels/config_fields.h"

namespace bitlab {
namespace bitzoo {

struct GptOptions {
  TORCH_ARG(int64_t, vocab_size) = 256;
  /// The longest sequence: the rows of the position table.
  TORCH_ARG(int64_t, context_length) = 256;
  TORCH_ARG(int64_t, hidden_size) = 256;
  TORCH_ARG(int64_t, num_layers) = 4;
  TORCH_ARG(int64_t, num_heads) = 4;
  /// "relu2" or "swiglu".
  TORCH_ARG(std::string, mlp) = "relu2";
  /// The MLP's inner width; 0: 4 * hidden_size.
  TORCH_ARG(int64_t, intermediate_size) = 0;
  /// Whether default_rules() let the embeddings and lm_head become ternary.
  TORCH_ARG(bool, ternary_embeddings) = false;

 public:  // TORCH_ARG leaves the access private.
  /// Reads the fields above (see the file comment) and validates them; does not check for
  /// unknown fields (AutoBitModel does).
  static GptOptions from_fields(ConfigFields& fields);
  /// Throws ConfigError "<context>: field '<name>' ..." for the first invalid field.
  void validate(const std::string& context = "GptOptions") const;
  /// The fields as a config's "architecture" object.
  nlohmann::json to_json() const;
  /// intermediate_size, with 0 resolved.
  int64_t mlp_width() const {
    return intermediate_size_ > 0 ? intermediate_size_ : 4 * hidden_size_;
  }
};

/// The keys and values every layer has seen, [B, num_heads, T, head_dim] each, appended by
/// Gpt::forward_with_cache. One cache serves one batch of sequences (generate() makes its own
/// per call).
struct GptKVCache {
  struct Layer {
    torch::Tensor keys;
    torch::Tensor values;
  };
  /// One per block; empty before the first forward.
  std::vector<Layer> layers;

  /// The positions cached so far.
  int64_t length() const {
    return layers.empty() || !layers.front().keys.defined() ? 0 : layers.front().keys.size(2);
  }
};

class Gpt : public BitModel, public CausalLM, public SwappableChildren {
 public:
  /// Validates `options` (ConfigError) and builds the float32 model, GPT-2's initialization.
  explicit Gpt(const GptOptions& options = {});

  /// int64 ids [B, T], 1 <= T <= context_length, in [0, vocab_size) -> float logits
  /// [B, T, vocab_size]. Anything else throws BitLabError (ShapeError for dtype and shape).
  torch::Tensor forward(const torch::Tensor& ids) override;
  /// The same for ids at positions cache.length() .. cache.length() + T - 1, attending over the
  /// cached positions too; appends the ids' keys and values to `cache`.
  torch::Tensor forward_with_cache(const torch::Tensor& ids, GptKVCache& cache);

  /// Uniform ids [batch, min(16, context_length)].
  torch::Tensor example_input(int64_t batch) const override;
  /// Keeps tok_embeddings, pos_embeddings and lm_head float32 unless ternary_embeddings.
  std::vector<ConversionRule> default_rules() const override;

  /// Greedy or sampled continuation (see GenerationOptions), under NoGradGuard and in the
  /// model's current mode (which it leaves as it is). Sampling draws from a generator of its
  /// own seeded with options.seed, so the global RNG neither matters nor changes. Stops after
  /// max_new_tokens, at context_length, or once every sequence has emitted eos_token_id;
  /// sequences that finished earlier are padded with eos_token_id.
  at::Tensor generate(const at::Tensor& prompt_ids, const GenerationOptions& options) override;
  int64_t vocab_size() const override { return options.vocab_size(); }
  int64_t max_sequence_length() const override { return options.context_length(); }

  void replace_child(const std::string& name, const torch::nn::AnyModule& replacement) override;

  const GptOptions options;
  torch::nn::AnyModule tok_embeddings;
  torch::nn::AnyModule pos_embeddings;
  torch::nn::ModuleList blocks = nullptr;
  BitRMSNorm norm = nullptr;
  torch::nn::AnyModule lm_head;

 private:
  // The forward of both public forwards; no cache when `cache` is null.
  torch::Tensor run(const torch::Tensor& ids, GptKVCache* cache);
  // Throws unless `ids` can run at positions past .. past + T - 1.
  void check_ids(const torch::Tensor& ids, int64_t past) const;
};

}  // namespace bitzoo
}  // namespace bitlab

#endif  // BITLAB_BITZOO_GPT_GPT_H_
