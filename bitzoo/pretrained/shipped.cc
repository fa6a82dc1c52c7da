#include "bitzoo/pretrained/shipped.h"

#include <climits>
#include <cstdlib>

#include <nlohmann/json.hpp>
#include <sys/stat.h>
#include <unistd.h>

#include "bitmodels/manifest.h"
#include "bitzoo/pretrained/shipped_manifests.h"

namespace bitlab {
namespace bitzoo {
namespace {

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? "" : value;
}

bool is_directory(const std::string& path) {
  struct stat info;
  return stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
}

// The runfiles tree of the running binary: what Bazel's test runner says, else the tree that
// `bazel build` puts beside the executable.
std::string runfiles_root() {
  for (const char* name : {"RUNFILES_DIR", "TEST_SRCDIR"}) {
    if (std::string dir = env(name); !dir.empty()) return dir;
  }
  char exe[PATH_MAX];
  const ssize_t length = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (length <= 0) return "";
  const std::string tree = std::string(exe, static_cast<size_t>(length)) + ".runfiles";
  return is_directory(tree) ? tree : "";
}

// Registers every shipped model before main(), so from_pretrained() finds them by name.
const bool kRegistered = [] {
  for (PretrainedSource& source : shipped_pretrained()) PretrainedRegistry::add(source);
  return true;
}();

}  // namespace

std::string shipped_dir(const std::string& name) {
  if (std::string zoo = env("BITLAB_ZOO_DIR"); !zoo.empty()) return zoo + "/" + name;
  const std::string root = runfiles_root();
  return root.empty() ? "" : root + "/bitlab/bitzoo/pretrained/" + name;
}

std::vector<PretrainedSource> shipped_pretrained() {
  std::vector<PretrainedSource> sources;
  for (const ShippedManifest& shipped : shipped_manifests()) {
    PretrainedSource source;
    source.name = shipped.name;
    source.manifest = Manifest::from_json(nlohmann::json::parse(shipped.json),
                                          "the compiled-in manifest of '" + shipped.name + "'");
    source.shipped_dir = shipped_dir(shipped.name);
    sources.push_back(std::move(source));
  }
  return sources;
}

}  // namespace bitzoo
}  // namespace bitlab
