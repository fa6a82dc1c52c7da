#include "bitmodels/model_card.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bitlayers/bit_layer.h"
#include "bitlayers/memory_report.h"
#include "bitmodels/model_registry.h"

namespace bitlab {
namespace {

std::string describe_inputs(const BitModel& model) {
  const AutoBitConfig& config = model.config;
  if (config.image_input) {
    const ImageInput& in = *config.image_input;
    return absl::StrCat(
        in.channels, "x", in.height, "x", in.width, in.channels == 1 ? " gray" : " RGB",
        " images, scaled to [0, 1] and normalized with mean [", absl::StrJoin(in.mean, ", "),
        "] and std [", absl::StrJoin(in.std, ", "), "]",
        in.labels.empty() ? "" : absl::StrCat("; ", in.labels.size(), " classes"));
  }
  const at::Tensor example = model.example_input(1);
  return absl::StrCat(config.tokenizer == "byte" ? "byte-level token ids (ByteTokenizer), " : "",
                      c10::toString(example.scalar_type()), " tensors shaped like [",
                      absl::StrJoin(example.sizes(), ", "), "] (batch first)");
}

// The parameters of the float model: a Bit layer counts those of the float32 layer it replaces
// (float_bytes() / 4), so a deployed model, whose weights are packed buffers, counts the same.
int64_t float_parameter_count(const torch::nn::Module& module) {
  if (const auto* bit = dynamic_cast<const BitLayer*>(&module)) {
    return bit->float_bytes() / static_cast<int64_t>(sizeof(float));
  }
  int64_t count = 0;
  for (const at::Tensor& p : module.parameters(/*recurse=*/false)) count += p.numel();
  for (const auto& child : module.children()) count += float_parameter_count(*child);
  return count;
}

}  // namespace

ModelCard ModelCard::describe(const BitModel& model, const std::string& name) {
  ModelCard card;
  card.name = name;
  card.model_type = model.config.model_type;
  if (ModelRegistry::contains(card.model_type)) {
    card.architecture = ModelRegistry::get(card.model_type).description;
  }
  card.quantization =
      model.config.precision == "float32" ? "float32" : model.config.quant_config.to_string();
  card.parameters = float_parameter_count(model);
  const MemoryReport memory = memory_report(model);
  card.float_bytes = memory.total_float_bytes;
  card.deployed_bytes = memory.total_deployed_bytes;
  card.intended_inputs = describe_inputs(model);
  return card;
}

std::string ModelCard::to_markdown() const {
  std::string text = absl::StrCat("# ", name, "\n\n");
  absl::StrAppend(&text, "| | |\n| --- | --- |\n");
  absl::StrAppend(&text, "| model_type | `", model_type, "` |\n");
  if (!architecture.empty()) absl::StrAppend(&text, "| architecture | ", architecture, " |\n");
  absl::StrAppend(&text, "| quantization | ", quantization, " |\n");
  absl::StrAppend(&text, "| parameters | ", parameters, " |\n");
  absl::StrAppend(&text, "| float32 weights | ", format_bytes(float_bytes), " |\n");
  absl::StrAppend(&text, "| deployed weights | ", format_bytes(deployed_bytes), " |\n");
  absl::StrAppend(&text, "| inputs | ", intended_inputs, " |\n");
  absl::StrAppend(&text, "| training | ", training_recipe, " |\n");
  if (!dataset.empty()) absl::StrAppend(&text, "| data set | ", dataset, " |\n");
  for (const auto& [metric, value] : metrics) {
    absl::StrAppend(&text, "| ", metric, " | ", value, " |\n");
  }
  if (!speed.empty()) absl::StrAppend(&text, "| speed | ", speed, " |\n");
  if (!notes.empty()) absl::StrAppend(&text, "\n", notes, notes.back() == '\n' ? "" : "\n");
  return text;
}

}  // namespace bitlab
