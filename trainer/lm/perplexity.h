// Held-out perplexity of a causal language model over a byte sequence: exp of the mean
// negative log-likelihood of each next byte.
//
// The text is cut into consecutive, non-overlapping chunks of context_length + 1 tokens; each
// chunk runs through the model once, its first context_length tokens as inputs and its last
// context_length as the targets. So every byte except the first of each chunk is predicted
// exactly once, by a model that sees only the bytes of its own chunk before it; the first byte
// of each chunk is never predicted. A final partial chunk counts when it has >= 2 tokens (its
// bytes after the first are predicted); a final single token is left out. A text of N tokens
// thus has N - ceil(N / (context_length + 1)) predictions.
//
// The result is deterministic: no sampling, no dropout (eval mode), the same chunks for the
// same text. A model that gives every byte the same probability has perplexity 256.
//
// Example:
//   at::Tensor bytes = bitlab::ByteTokenizer().encode(text);   // int64 [N]
//   double ppl = bitlab::trainer::heldout_perplexity(*model, bytes, /*context_length=*/128);
#ifndef BITLAB_TRAINER_LM_PERPLEXITY_H_
#define BITLAB_TRAINER_LM_PERPLEXITY_H_

#include <cstdint>

#include <ATen/core/Tensor.h>

#include "bitmodels/bit_model.h"

namespace bitlab {
namespace trainer {

/// The perplexity of `model` (token ids [B, T] -> logits [B, T, V]) on `bytes` (int64 [N],
/// N >= 2), chunked as the file comment says, `batch_size` chunks per forward. Runs in eval
/// mode under torch::NoGradGuard and leaves the model in the mode it found it in. Throws
/// ShapeError for `bytes` that is not int64 [N >= 2] and BitLabError unless context_length
/// and batch_size are >= 1.
double heldout_perplexity(BitModel& model, const at::Tensor& bytes, int64_t context_length,
                          int64_t batch_size = 8);

}  // namespace trainer
}  // namespace bitlab

#endif  // BITLAB_TRAINER_LM_PERPLEXITY_H_
