#include "bitzoo/pipeline/pipeline.h"

#include <algorithm>
#include <utility>

#include <ATen/ops/softmax.h>
#include <ATen/ops/topk.h>
#include <torch/utils.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bitcore/errors.h"
#include "bitcore/tensor_checks.h"
#include "bitmodels/byte_tokenizer.h"
#include "bitzoo/pipeline/image_io.h"
#include "bitzoo/pipeline/preprocess.h"

namespace bitlab {
namespace bitzoo {
namespace {

constexpr char kImageClassification[] = "image-classification";
constexpr char kTextGeneration[] = "text-generation";
constexpr const char* kTasks[] = {kImageClassification, kTextGeneration};

std::string where(const std::string& task) { return absl::StrCat("Pipeline(\"", task, "\")"); }

}  // namespace

Pipeline::Pipeline(std::string task, std::shared_ptr<BitModel> model)
    : task_(std::move(task)), model_(std::move(model)) {
  if (std::find(std::begin(kTasks), std::end(kTasks), task_) == std::end(kTasks)) {
    throw BitLabError(absl::StrCat("Pipeline: unknown task \"", task_, "\"; the tasks are \"",
                                   absl::StrJoin(kTasks, "\", \""), "\""));
  }
  if (model_ == nullptr) throw BitLabError(absl::StrCat(where(task_), ": the model is null"));
  const AutoBitConfig& config = model_->config;
  if (task_ == kImageClassification) {
    if (!config.image_input.has_value()) {
      throw BitLabError(absl::StrCat(where(task_), ": the config of model \"", config.model_type,
                                     "\" lacks \"image_input\", which says how to preprocess "
                                     "images for it"));
    }
    image_input_ = *config.image_input;
  } else {
    language_model_ = dynamic_cast<CausalLM*>(model_.get());
    if (language_model_ == nullptr) {
      throw BitLabError(absl::StrCat(where(task_), ": model \"", config.model_type,
                                     "\" does not implement bitlab::CausalLM"));
    }
    if (config.tokenizer != "byte") {
      throw BitLabError(absl::StrCat(where(task_), ": the config of model \"", config.model_type,
                                     "\" has tokenizer \"", config.tokenizer,
                                     "\"; text-generation supports only \"byte\""));
    }
  }
}

void Pipeline::require_task(const char* method, const char* task) const {
  if (task_ != task) {
    throw BitLabError(
        absl::StrCat(where(task_), "::", method, ": only for the \"", task, "\" task"));
  }
}

at::Tensor Pipeline::image_batch(const at::Tensor& image) const {
  check_defined("Pipeline::classify", "image", image);
  if (image.scalar_type() == at::kByte) return preprocess_image(image, image_input_);
  check_floating("Pipeline::classify", "image", image);
  const at::Tensor batch = image.dim() == 3 ? image.unsqueeze(0) : image;
  const std::vector<int64_t> expected = {1, image_input_.channels, image_input_.height,
                                         image_input_.width};
  if (batch.sizes() != at::IntArrayRef(expected)) {
    throw ShapeError(absl::StrCat(
        "Pipeline::classify: a preprocessed image must be [C, H, W] or [1, C, H, W] with [C, H, "
        "W] = [",
        absl::StrJoin(expected.begin() + 1, expected.end(), ", "),
        "] (the config's image_input), got ", shape_string(image)));
  }
  return batch.to(at::kFloat);
}

std::vector<Prediction> Pipeline::classify(const at::Tensor& image, int64_t top_k) {
  require_task("classify", kImageClassification);
  if (top_k < 1) {
    throw BitLabError(
        absl::StrCat(where(task_), "::classify: top_k is ", top_k, ", expected >= 1"));
  }
  const at::Tensor batch = image_batch(image);
  torch::NoGradGuard no_grad;
  model_->eval();
  const at::Tensor logits = model_->forward(batch);
  if (logits.dim() != 2 || logits.size(0) != 1 || logits.size(1) < 1) {
    throw BitLabError(absl::StrCat(where(task_), ": the model returned ", shape_string(logits),
                                   ", expected logits [1, classes]"));
  }
  const int64_t classes = logits.size(1);
  const std::vector<std::string>& labels = image_input_.labels;
  if (!labels.empty() && static_cast<int64_t>(labels.size()) != classes) {
    throw BitLabError(absl::StrCat(where(task_), ": image_input has ", labels.size(),
                                   " labels but the model outputs ", classes, " classes"));
  }
  // Double precision so the scores sum to 1 as closely as a caller can check.
  const at::Tensor scores = at::softmax(logits[0].to(at::kDouble).cpu(), 0);
  const auto [values, indices] = at::topk(scores, std::min(top_k, classes));
  std::vector<Prediction> predictions;
  for (int64_t i = 0; i < values.size(0); ++i) {
    const int64_t id = indices[i].item<int64_t>();
    predictions.push_back(
        {id, labels.empty() ? absl::StrCat("class ", id) : labels[id], values[i].item<double>()});
  }
  return predictions;
}

std::vector<Prediction> Pipeline::classify_file(const std::string& path, int64_t top_k) {
  require_task("classify_file", kImageClassification);
  return classify(decode_image_file(path).pixels, top_k);
}

std::string Pipeline::generate(const std::string& prompt, const GenerationOptions& options) {
  require_task("generate", kTextGeneration);
  const ByteTokenizer tokenizer;
  torch::NoGradGuard no_grad;
  model_->eval();
  return tokenizer.decode(
      language_model_->generate(tokenizer.encode(prompt).unsqueeze(0), options));
}

}  // namespace bitzoo
}  // namespace bitlab
