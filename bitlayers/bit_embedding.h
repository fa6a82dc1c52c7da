// BitEmbedding: a drop-in for torch::nn::Embedding whose table is ternary.
//
// Every row of the table is an embedding; the table is quantized like a BitLinear weight with
// the rows as output channels: one absmean scale for the whole table (weight granularity per
// tensor) or one per row (per channel). Activation settings of the config do not apply.
//
// Life cycle (as BitLinear's, bit_linear.h):
//   train():  a float32 latent `weight` trains through fake quantization with the
//             straight-through estimator: the whole table is fake-quantized, then looked up
//             with torch's embedding op, so the latent weight gets exactly the gradient torch's
//             embedding has at the dequantized table (padding_idx and scale_grad_by_freq as
//             torch).
//   eval():   the table is quantized and packed once into the buffers `qweight` (canonical t2)
//             and `qweight_scale`; a forward gathers the packed rows it needs, unpacks only
//             those and multiplies them by their scale. The result is the training forward's,
//             bit for bit. The packed table is rebuilt on the next forward after the layer
//             leaves training, after an in-place change to `weight` in eval mode, after its
//             storage is replaced, or after the weight granularity or eps changes.
//   deploy(): irreversible: the float table is freed, leaving the packed rows and scales;
//             train() afterwards throws BitLabError. Deploying twice does nothing.
//
// max_norm applies to the vectors the layer returns, in every mode (see BitEmbeddingOptions).
//
// Example:
//   bitlab::BitEmbedding embedding(bitlab::BitEmbeddingOptions(32000, 512).padding_idx(0));
//   torch::Tensor tokens = torch::tensor({{1, 5, 0}}, torch::kLong);
//   torch::Tensor vectors = embedding(tokens);   // [1, 3, 512], fake quantization
//   embedding->deploy();                         // 2 bits a weight from here on
//   torch::Tensor same = embedding(tokens);      // unpacks the three rows it needs
#ifndef BITLAB_BITLAYERS_BIT_EMBEDDING_H_
#define BITLAB_BITLAYERS_BIT_EMBEDDING_H_

#include <cstdint>
#include <memory>
#include <ostream>

#include <c10/util/Optional.h>
#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/options/embedding.h>
#include <torch/nn/pimpl.h>

#include "bitcore/quant_config.h"
#include "bitlayers/bit_layer.h"
#include "bitlayers/packed_weight_tracker.h"

namespace bitlab {

struct BitEmbeddingOptions {
  BitEmbeddingOptions(int64_t num_embeddings, int64_t embedding_dim)
      : num_embeddings_(num_embeddings), embedding_dim_(embedding_dim) {}

  /// The options of a torch embedding, with the default quantization config. A `sparse`
  /// embedding throws BitLabError (sparse gradients are not supported). `_weight` is not
  /// carried over: BitEmbeddingImpl::from_torch copies a module's weight.
  static BitEmbeddingOptions from_torch(const torch::nn::EmbeddingOptions& options);

  /// Rows of the table. Effect only through reset().
  TORCH_ARG(int64_t, num_embeddings);
  /// Length of each embedding vector. Effect only through reset().
  TORCH_ARG(int64_t, embedding_dim);
  /// A row that gets no gradient, zeroed at initialization; negative values count from the
  /// end (reset() stores the non-negative form, as libtorch does). Out of
  /// [-num_embeddings, num_embeddings) throws BitLabError. Read at every training forward; the
  /// row is zeroed only by reset() / reset_parameters().
  TORCH_ARG(c10::optional<int64_t>, padding_idx) = c10::nullopt;
  /// If set (> 0), every returned vector whose norm_type-norm exceeds it is rescaled by
  /// max_norm / (norm + 1e-7), libtorch's factor, taken as a constant in the backward. Unlike
  /// libtorch, the latent table is not renormalized in place. Read at every forward.
  TORCH_ARG(c10::optional<double>, max_norm) = c10::nullopt;
  /// The p of the p-norm for max_norm (> 0; infinity allowed). Read at every forward.
  TORCH_ARG(double, norm_type) = 2.0;
  /// Scale each row's gradient by the inverse of its frequency in the mini-batch, as torch
  /// does. Read at every training forward.
  TORCH_ARG(bool, scale_grad_by_freq) = false;
  /// Quantization of the table (weight_granularity and eps; activation settings do not
  /// apply). Read at every forward, so a change takes effect at the next forward (before
  /// deploy(); afterwards the packed rows keep their scales).
  TORCH_ARG(BitQuantConfig, quant_config);
};

class BitEmbeddingImpl : public torch::nn::Cloneable<BitEmbeddingImpl>, public BitLayer {
 public:
  BitEmbeddingImpl(int64_t num_embeddings, int64_t embedding_dim)
      : BitEmbeddingImpl(BitEmbeddingOptions(num_embeddings, embedding_dim)) {}
  explicit BitEmbeddingImpl(const BitEmbeddingOptions& options);

  /// Creates the parameter and buffers (re-initializing everything, deploy included).
  void reset() override;
  /// Re-initializes `weight` from N(0, 1), as torch does, and zeroes the padding row.
  void reset_parameters();
  void pretty_print(std::ostream& stream) const override;

  /// Integer indices (kLong, kInt or any other integer dtype) of any shape ->
  /// float32 indices.shape + [embedding_dim]. Float indices, or an index outside
  /// [0, num_embeddings), throw a BitLabError naming it.
  torch::Tensor forward(const torch::Tensor& indices);

  /// Throws BitLabError when turning training on after deploy().
  void train(bool on = true) override;

  /// Packs the table, frees the float weight and switches to eval for good.
  void deploy() override;
  /// True once the float weight is gone and the packed weights remain, which a clone or a
  /// loaded state dict of a deployed layer carries along.
  bool is_deployed() const override { return weight.numel() == 0 && qweight.numel() > 0; }
  /// 4 * num_embeddings * embedding_dim.
  int64_t float_bytes() const override;
  /// num_embeddings * ceil(embedding_dim / 4) t2 bytes plus 4 bytes a scale.
  int64_t deployed_bytes() const override;

  /// A BitEmbedding with `embedding`'s options and weight (and its requires_grad), quantized
  /// per `config`. Throws BitLabError for a sparse embedding.
  static std::shared_ptr<BitEmbeddingImpl> from_torch(const torch::nn::EmbeddingImpl& embedding,
                                                      const BitQuantConfig& config);

  BitEmbeddingOptions options;
  /// Latent float32 table [num_embeddings, embedding_dim] (empty once deployed).
  torch::Tensor weight;
  /// Canonical t2 packed table, uint8 [num_embeddings, ceil(embedding_dim / 4)], and its
  /// float32 scale ([1] or [num_embeddings]); empty in training until the first eval forward.
  torch::Tensor qweight;
  torch::Tensor qweight_scale;

 private:
  // The padding row in [0, num_embeddings), or -1 for none; throws when out of range.
  int64_t padding_row() const;
  // Throws BitLabError for bad max_norm / norm_type.
  void check_norm_options() const;
  // Indices as kLong or kInt, checked to lie in [0, num_embeddings).
  torch::Tensor checked_indices(const torch::Tensor& indices) const;
  // Quantizes and packs `weight` when the packed copy is missing or stale.
  void refresh_packed_weights();
  // The eval / deployed lookup: gathers, unpacks and scales only the rows in `indices`.
  torch::Tensor lookup_packed(const torch::Tensor& indices) const;
  // Rescales returned vectors whose norm exceeds max_norm.
  torch::Tensor apply_max_norm(const torch::Tensor& vectors) const;

  // Whether qweight is still that of weight.
  internal::PackedWeightTracker packed_tracker_;
};

TORCH_MODULE(BitEmbedding);

}  // namespace bitlab

#endif  // BITLAB_BITLAYERS_BIT_EMBEDDING_H_
