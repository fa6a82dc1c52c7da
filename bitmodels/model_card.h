// ModelCard: what a model is, in one page: architecture, size in float32 and deployed, the
// inputs it expects, how it was trained, and what was measured. save_pretrained writes it as
// README.md beside the weights; bitzoo::model_card() gives it for every zoo entry.
//
// Example:
//   bitlab::ModelCard card = bitlab::ModelCard::describe(*model, "lenet5-fmnist");
//   card.training_recipe = "10 epochs, AdamW 1e-3, batch 128";
//   std::cout << card.to_markdown();
#ifndef BITLAB_BITMODELS_MODEL_CARD_H_
#define BITLAB_BITMODELS_MODEL_CARD_H_

#include <cstdint>
#include <map>
#include <string>

#include "bitmodels/bit_model.h"

namespace bitlab {

struct ModelCard {
  std::string name;
  std::string model_type;
  /// The registry's one-line description of the architecture.
  std::string architecture;
  /// "ai8pc_wpt", or "float32" for an unconverted model.
  std::string quantization;
  int64_t parameters = 0;
  int64_t float_bytes = 0;
  int64_t deployed_bytes = 0;
  /// What forward() takes, e.g. "1x28x28 gray images, resized and normalized (mean 0.286, std
  /// 0.353), 10 classes".
  std::string intended_inputs;
  std::string training_recipe = "not trained (random initialization)";
  std::string dataset;
  std::map<std::string, double> metrics;
  /// Measured speed, with the command that measured it.
  std::string speed;
  /// Markdown placed after the table: comparisons, latency tables, what was tried.
  std::string notes;

  /// Fills everything it can compute from `model` (its config, parameters and bytes).
  static ModelCard describe(const BitModel& model, const std::string& name);
  std::string to_markdown() const;
};

}  // namespace bitlab

#endif  // BITLAB_BITMODELS_MODEL_CARD_H_
