// CausalLM: a model that continues token sequences, with a KV cache, and the sampling options
// text generation takes. The GPT of bitzoo implements it; bitzoo::Pipeline's
// "text-generation" task drives any implementation.
//
// Example:
//   bitlab::GenerationOptions options;
//   options.max_new_tokens = 32;
//   options.top_k = 40;
//   options.seed = 7;
//   torch::Tensor ids = lm.generate(prompt_ids, options);   // [1, T] -> [1, T + new]
#ifndef BITLAB_BITMODELS_CAUSAL_LM_H_
#define BITLAB_BITMODELS_CAUSAL_LM_H_

#include <cstdint>

#include <ATen/core/Tensor.h>
#include <c10/util/Optional.h>

namespace bitlab {

struct GenerationOptions {
  /// Tokens to append (generation also stops at the model's context length, or at eos).
  int64_t max_new_tokens = 32;
  /// false: greedy (argmax). true: sample with temperature, top_k and top_p.
  bool do_sample = false;
  /// Divides the logits before sampling; must be > 0.
  double temperature = 1.0;
  /// Keep the k most likely tokens (0: all).
  int64_t top_k = 0;
  /// Keep the smallest set of most likely tokens whose probability reaches top_p (1: all).
  double top_p = 1.0;
  /// Seed of the sampler's own generator: the same seed gives the same tokens.
  uint64_t seed = 0;
  /// Stop after emitting this token, if set.
  c10::optional<int64_t> eos_token_id;
  /// Use the KV cache (the result must not depend on it).
  bool use_cache = true;
};

class CausalLM {
 public:
  virtual ~CausalLM() = default;
  /// [B, T] int64 prompt ids -> [B, T + generated] ids. Throws BitLabError for bad options,
  /// an empty prompt or ids outside the vocabulary.
  virtual at::Tensor generate(const at::Tensor& prompt_ids, const GenerationOptions& options) = 0;
  virtual int64_t vocab_size() const = 0;
  /// The longest sequence the model attends over (its position table).
  virtual int64_t max_sequence_length() const = 0;
};

}  // namespace bitlab

#endif  // BITLAB_BITMODELS_CAUSAL_LM_H_
