// The manifests of the pretrained models shipped in bitzoo/pretrained/<name>/, compiled into
// the code by embed_manifests.sh. The files themselves travel as runfiles (or are installed
// under $BITLAB_ZOO_DIR); these copies say what their bytes must be.
#ifndef BITLAB_BITZOO_PRETRAINED_SHIPPED_MANIFESTS_H_
#define BITLAB_BITZOO_PRETRAINED_SHIPPED_MANIFESTS_H_

#include <string>
#include <vector>

namespace bitlab {
namespace bitzoo {

struct ShippedManifest {
  /// The directory's name, which is the pretrained name ("resnet18-fmnist").
  std::string name;
  /// The manifest.json text.
  std::string json;
};

/// One per shipped model, sorted by name.
const std::vector<ShippedManifest>& shipped_manifests();

}  // namespace bitzoo
}  // namespace bitlab

#endif  // BITLAB_BITZOO_PRETRAINED_SHIPPED_MANIFESTS_H_
