#include "bitzoo/zoo.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bitcore/errors.h"
#include "bitmodels/auto_bit_model.h"
#include "bitmodels/model_registry.h"
#include "bitmodels/pretrained.h"

namespace bitlab {
namespace bitzoo {

std::vector<ZooEntry> list() {
  std::vector<ZooEntry> entries;
  for (const ModelType& type : ModelRegistry::list()) {
    entries.push_back({type.name, false, type.description});
  }
  for (const std::string& name : PretrainedRegistry::names()) {
    const PretrainedSource* source = PretrainedRegistry::find(name);
    const std::string dataset = source->manifest.dataset;
    entries.push_back(
        {name, true,
         dataset.empty() ? "pretrained weights" : absl::StrCat("pretrained on ", dataset)});
  }
  return entries;
}

ModelCard model_card(const std::string& name) {
  if (const PretrainedSource* source = PretrainedRegistry::find(name)) {
    ModelCard card = ModelCard::describe(*AutoBitModel::from_pretrained(name), name);
    card.dataset = source->manifest.dataset;
    card.metrics = source->manifest.metrics;
    return card;
  }
  if (ModelRegistry::contains(name)) {
    AutoBitConfig config;
    config.model_type = name;
    return ModelCard::describe(*AutoBitModel::from_config(config), name);
  }
  std::vector<std::string> names;
  for (const ZooEntry& entry : list()) names.push_back(entry.name);
  throw BitLabError(absl::StrCat("bitzoo: no model called '", name, "'; the zoo has ",
                                 absl::StrJoin(names, ", ")));
}

}  // namespace bitzoo
}  // namespace bitlab
