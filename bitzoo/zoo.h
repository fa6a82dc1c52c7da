// The model zoo's index: every architecture that can be built by name, and every set of
// pretrained weights that from_pretrained can load, each with its model card.
//
// Example:
//   for (const bitlab::bitzoo::ZooEntry& entry : bitlab::bitzoo::list()) {
//     std::cout << entry.name << (entry.pretrained ? " (weights)" : "") << "\n";
//   }
//   std::cout << bitlab::bitzoo::model_card("resnet18").to_markdown();
#ifndef BITLAB_BITZOO_ZOO_H_
#define BITLAB_BITZOO_ZOO_H_

#include <string>
#include <vector>

#include "bitmodels/model_card.h"

namespace bitlab {
namespace bitzoo {

struct ZooEntry {
  /// A model_type ("resnet18": an architecture, randomly initialized) or the name of
  /// pretrained weights ("lenet5-fmnist").
  std::string name;
  /// True for pretrained weights (AutoBitModel::from_pretrained(name)); false for an
  /// architecture (AutoBitModel::from_config with {"model_type": name}).
  bool pretrained = false;
  std::string description;
};

/// Every architecture in the registry, then every pretrained entry, each sorted by name.
std::vector<ZooEntry> list();

/// The card of `name`: for an architecture, the model built with its default fields and the
/// default quantization; for pretrained weights, the loaded model with its manifest's data set
/// and metrics. Unknown names throw BitLabError listing the known ones.
ModelCard model_card(const std::string& name);

}  // namespace bitzoo
}  // namespace bitlab

#endif  // BITLAB_BITZOO_ZOO_H_
