// BitModel: what every model AutoBitModel builds has in common, beside being a
// torch::nn::Module.
//
// A builder makes the architecture with float32 torch::nn layers held as swappable children
// (bitlab::SwappableChildren, see bitlayers/converter.h); AutoBitModel then converts it with
// BitConverter, keeping in float32 what default_rules() (or the config's "keep_float") names.
// So one template serves training from scratch, conversion of float checkpoints and
// deployment, and every architecture takes a BitQuantConfig and conversion rules.
//
// Example:
//   std::shared_ptr<bitlab::BitModel> model = bitlab::AutoBitModel::from_config(config);
//   torch::Tensor logits = model->forward(model->example_input(/*batch=*/2));
#ifndef BITLAB_BITMODELS_BIT_MODEL_H_
#define BITLAB_BITMODELS_BIT_MODEL_H_

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include "bitlayers/converter.h"
#include "bitmodels/auto_bit_config.h"

namespace bitlab {

class BitModel : public torch::nn::Module {
 public:
  using torch::nn::Module::Module;

  /// The model's one input to its output: images [B, C, H, W] -> logits [B, classes];
  /// token ids [B, T] (int64) -> logits [B, T, vocab] (or hidden states [B, T, hidden] for an
  /// encoder without a head).
  virtual torch::Tensor forward(const torch::Tensor& input) = 0;

  /// A valid random input batch of `batch` samples (images in N(0, 1), token ids uniform over
  /// the vocabulary), for tests, benchmarks and model cards.
  virtual torch::Tensor example_input(int64_t batch) const = 0;

  /// The layers this architecture keeps in float32 when converted unless the config says
  /// otherwise, e.g. the first convolution and the classifier.
  virtual std::vector<ConversionRule> default_rules() const { return {}; }

  /// The config the model was built from (AutoBitModel sets it; a model built directly has
  /// only model_type and architecture defaults).
  AutoBitConfig config;
};

}  // namespace bitlab

#endif  // BITLAB_BITMODELS_BIT_MODEL_H_
