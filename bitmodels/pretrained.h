// Pretrained weights by name: where they come from and the local cache they are used from.
//
// A PretrainedSource names a model, the manifest its files must match (the copy kept with the
// code, so a changed file cannot vouch for itself), and the directory the files are shipped in
// (in the repository or an installation). fetch_pretrained() copies them into the cache
// (`$BITLAB_CACHE`, else `~/.cache/bitlab`), checking every file's SHA-256 before it enters the
// cache and again when it is used. Nothing is downloaded: BitLab works offline.
//
// Example:
//   bitlab::PretrainedRegistry::add({"lenet5-fmnist", manifest, "/opt/bitlab/zoo/lenet5-fmnist"});
//   std::string dir = bitlab::fetch_pretrained(*bitlab::PretrainedRegistry::find("lenet5-fmnist"));
//   // dir = ~/.cache/bitlab/lenet5-fmnist, holding verified config.json, model.safetensors, ...
#ifndef BITLAB_BITMODELS_PRETRAINED_H_
#define BITLAB_BITMODELS_PRETRAINED_H_

#include <string>
#include <vector>

#include "bitmodels/manifest.h"

namespace bitlab {

struct PretrainedSource {
  std::string name;
  /// The files and their SHA-256, as the code expects them.
  Manifest manifest;
  /// Where the files are shipped; empty when only the cache may have them.
  std::string shipped_dir;
};

class PretrainedRegistry {
 public:
  /// Adds or replaces the source called source.name.
  static void add(PretrainedSource source);
  /// nullptr when there is none.
  static const PretrainedSource* find(const std::string& name);
  /// Sorted.
  static std::vector<std::string> names();
};

/// `$BITLAB_CACHE` if set, else `$HOME/.cache/bitlab`.
std::string cache_dir();

/// The cache directory of `source` with every manifest file present and verified, copied from
/// shipped_dir when missing or changed. Throws BitLabError naming the file when a shipped file
/// does not match the manifest, or when the files are neither cached nor shipped.
std::string fetch_pretrained(const PretrainedSource& source);

}  // namespace bitlab

#endif  // BITLAB_BITMODELS_PRETRAINED_H_
