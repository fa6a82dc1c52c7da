// Pipeline: from an input to an answer in one call, with any BitModel, the way the model's own
// config says: image_input tells how to preprocess images and names the classes, tokenizer
// how text becomes token ids.
//
// Tasks:
//   "image-classification": an image (file, decoded pixels or preprocessed tensor) -> the
//                           top-k classes with their softmax probabilities.
//   "text-generation":      a prompt -> the prompt and its continuation, for a model that
//                           implements bitlab::CausalLM with the "byte" tokenizer.
// The pipeline puts the model in eval mode and runs it without autograd.
//
// Example:
//   std::shared_ptr<bitlab::BitModel> model = bitlab::AutoBitModel::from_config(config);
//   bitlab::bitzoo::Pipeline classifier("image-classification", model);
//   for (const bitlab::bitzoo::Prediction& p : classifier.classify_file("shoe.png", 3)) {
//     std::cout << p.label << ": " << p.score << "\n";   // "Sneaker: 0.93", ...
//   }
#ifndef BITLAB_BITZOO_PIPELINE_PIPELINE_H_
#define BITLAB_BITZOO_PIPELINE_PIPELINE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "bitmodels/auto_bit_config.h"
#include "bitmodels/bit_model.h"
#include "bitmodels/causal_lm.h"

namespace bitlab {
namespace bitzoo {

struct Prediction {
  int64_t class_id = 0;
  /// From the config's image_input.labels, or "class <class_id>" when it has none.
  std::string label;
  /// Softmax probability over all the model's classes.
  double score = 0;
};

class Pipeline {
 public:
  /// `task` is "image-classification" or "text-generation". Throws BitLabError for an unknown
  /// task (listing the tasks), a null model, or a model the task cannot drive: for
  /// image-classification a config without "image_input"; for text-generation a model that is
  /// not a CausalLM or a config whose tokenizer is not "byte".
  Pipeline(std::string task, std::shared_ptr<BitModel> model);

  const std::string& task() const { return task_; }

  /// image-classification: `image` is decoded pixels, uint8 [H, W, C] (see preprocess_image),
  /// or an already preprocessed float [C, H, W] / [1, C, H, W] tensor of the config's size.
  /// Returns min(top_k, classes) predictions, most likely first. Throws BitLabError for
  /// top_k < 1, a model output that is not [1, classes], or labels that do not count the
  /// classes; ShapeError for an image of the wrong kind.
  std::vector<Prediction> classify(const at::Tensor& image, int64_t top_k = 5);
  /// classify() on decode_image_file(path).
  std::vector<Prediction> classify_file(const std::string& path, int64_t top_k = 5);

  /// text-generation: the prompt followed by the model's continuation, decoded.
  std::string generate(const std::string& prompt, const GenerationOptions& options = {});

 private:
  // Throws unless this pipeline's task is `task`.
  void require_task(const char* method, const char* task) const;
  // The model's input batch [1, C, H, W] for classify's `image`.
  at::Tensor image_batch(const at::Tensor& image) const;

  std::string task_;
  std::shared_ptr<BitModel> model_;
  // image-classification: a copy of the config's, checked present at construction.
  ImageInput image_input_;
  // text-generation: model_ as a CausalLM.
  CausalLM* language_model_ = nullptr;
};

}  // namespace bitzoo
}  // namespace bitlab

#endif  // BITLAB_BITZOO_PIPELINE_PIPELINE_H_
