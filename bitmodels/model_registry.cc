#include "bitmodels/model_registry.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace bitlab {
namespace {

// Built on first use, so registrations from any translation unit's static initializers work
// whatever order they run in.
std::map<std::string, ModelType>& registry() {
  static auto* types = new std::map<std::string, ModelType>();
  return *types;
}

}  // namespace

bool ModelRegistry::add(ModelType type) {
  if (type.name.empty() || !type.build) {
    throw BitLabError("ModelRegistry: a model type needs a name and a builder");
  }
  const std::string name = type.name;
  if (!registry().emplace(name, std::move(type)).second) {
    throw BitLabError(absl::StrCat("ModelRegistry: model_type '", name, "' registered twice"));
  }
  return true;
}

const ModelType& ModelRegistry::get(const std::string& name) {
  const auto it = registry().find(name);
  if (it == registry().end()) {
    std::vector<std::string> known;
    for (const auto& entry : registry()) known.push_back(entry.first);
    throw ConfigError(absl::StrCat(
        "unknown model_type '", name,
        "'; known types: ", known.empty() ? "(none linked in)" : absl::StrJoin(known, ", ")));
  }
  return it->second;
}

bool ModelRegistry::contains(const std::string& name) { return registry().count(name) > 0; }

std::vector<ModelType> ModelRegistry::list() {
  std::vector<ModelType> types;
  for (const auto& entry : registry()) types.push_back(entry.second);
  return types;
}

}  // namespace bitlab
