// ModelRegistry: maps a config's `model_type` to the builder of that architecture.
//
// Architectures register themselves with one macro in their .cc file (their cc_library sets
// alwayslink = 1 so the registration is linked even when nothing names the symbol):
//
//   BITLAB_REGISTER_MODEL("resnet18", "ResNet-18 (torchvision layout)",
//                         [](bitlab::ConfigFields& fields) { return make_resnet(18, fields); });
//
// A builder reads its fields from `fields` (ConfigFields validates them and names the bad
// one) and returns the float32 model; AutoBitModel converts it (see bit_model.h).
#ifndef BITLAB_BITMODELS_MODEL_REGISTRY_H_
#define BITLAB_BITMODELS_MODEL_REGISTRY_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bitmodels/bit_model.h"
#include "bitmodels/config_fields.h"

namespace bitlab {

using ModelBuilder = std::function<std::shared_ptr<BitModel>(ConfigFields& architecture)>;

struct ModelType {
  /// The `model_type` configs name, e.g. "resnet18".
  std::string name;
  /// One line for listings.
  std::string description;
  ModelBuilder build;
};

class ModelRegistry {
 public:
  /// Adds a model type; throws BitLabError when the name is taken. Returns true (for the
  /// registration macro's static).
  static bool add(ModelType type);
  /// The model type `name`; an unknown name throws ConfigError listing the known ones.
  static const ModelType& get(const std::string& name);
  static bool contains(const std::string& name);
  /// Every registered type, sorted by name.
  static std::vector<ModelType> list();
};

}  // namespace bitlab

#define BITLAB_REGISTRY_CONCAT_INNER(a, b) a##b
#define BITLAB_REGISTRY_CONCAT(a, b) BITLAB_REGISTRY_CONCAT_INNER(a, b)

/// Registers a model type at static initialization (see the file comment).
#define BITLAB_REGISTER_MODEL(name, description, builder)                        \
  static const bool BITLAB_REGISTRY_CONCAT(bitlab_model_registered_, __LINE__) = \
      ::bitlab::ModelRegistry::add(::bitlab::ModelType{name, description, builder})

#endif  // BITLAB_BITMODELS_MODEL_REGISTRY_H_
