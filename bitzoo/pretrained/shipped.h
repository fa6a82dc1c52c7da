// The zoo's shipped pretrained weights: linking //bitzoo/pretrained:shipped (as //bitzoo does)
// registers every model under bitzoo/pretrained/<name>/ with the PretrainedRegistry, so
//   bitlab::AutoBitModel::from_pretrained("resnet18-fmnist")
// gives the trained, deployed model. Each entry's manifest is compiled in (shipped_manifests.h);
// its files are found in
//   1. $BITLAB_ZOO_DIR/<name>, where an installation put them, else
//   2. the runfiles of the running binary (bazel run / bazel test, in this workspace or in one
//      that depends on @bitlab), at bitlab/bitzoo/pretrained/<name>.
// fetch_pretrained() copies them into the cache after checking every file's SHA-256, so a
// changed copy is refused by name.
//
// Each directory also holds recipe.json (the TrainingConfig it was trained with) and the model
// card README.md with the accuracies of the ternary model and its float32 twin.
#ifndef BITLAB_BITZOO_PRETRAINED_SHIPPED_H_
#define BITLAB_BITZOO_PRETRAINED_SHIPPED_H_

#include <string>
#include <vector>

#include "bitmodels/pretrained.h"

namespace bitlab {
namespace bitzoo {

/// The shipped models, sorted by name, with their compiled-in manifests and where their files
/// are (shipped_dir empty when neither $BITLAB_ZOO_DIR nor the runfiles hold them).
std::vector<PretrainedSource> shipped_pretrained();

/// Where shipped model `name`'s files are looked for first: `$BITLAB_ZOO_DIR/<name>` when that
/// variable is set, else the runfiles directory; "" when there is neither.
std::string shipped_dir(const std::string& name);

}  // namespace bitzoo
}  // namespace bitlab

#endif  // BITLAB_BITZOO_PRETRAINED_SHIPPED_H_
