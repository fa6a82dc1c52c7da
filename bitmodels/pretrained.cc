#include "bitmodels/pretrained.h"

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bitcore/errors.h"
#include "bitcore/io/atomic_file.h"
#include "bitcore/io/sha256.h"

namespace bitlab {
namespace {

std::mutex& registry_mutex() {
  static auto* mutex = new std::mutex();
  return *mutex;
}

std::map<std::string, PretrainedSource>& registry() {
  static auto* sources = new std::map<std::string, PretrainedSource>();
  return *sources;
}

std::string read_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw BitLabError(absl::StrCat("cannot open ", path));
  return std::string(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
}

// Copies `file` from the shipped directory into the cache, refusing one that differs from the
// manifest before it gets there.
void install(const PretrainedSource& source, const ManifestFile& file, const std::string& cache) {
  const std::string from = source.shipped_dir + "/" + file.file;
  const std::string bytes = read_file(from);
  const std::string sha256 = sha256_hex(bytes.data(), bytes.size());
  if (sha256 != file.sha256 || static_cast<int64_t>(bytes.size()) != file.size) {
    throw BitLabError(absl::StrCat(
        from, ": sha256 ", sha256, " (", bytes.size(), " bytes) does not match the manifest of '",
        source.name, "' (", file.sha256, ", ", file.size, " bytes); refusing to install it"));
  }
  write_file_atomically(cache + "/" + file.file, {{bytes.data(), bytes.size()}});
}

}  // namespace

void PretrainedRegistry::add(PretrainedSource source) {
  std::lock_guard<std::mutex> lock(registry_mutex());
  const std::string name = source.name;
  registry()[name] = std::move(source);
}

const PretrainedSource* PretrainedRegistry::find(const std::string& name) {
  std::lock_guard<std::mutex> lock(registry_mutex());
  const auto it = registry().find(name);
  return it == registry().end() ? nullptr : &it->second;
}

std::vector<std::string> PretrainedRegistry::names() {
  std::lock_guard<std::mutex> lock(registry_mutex());
  std::vector<std::string> names;
  for (const auto& entry : registry()) names.push_back(entry.first);
  return names;
}

std::string cache_dir() {
  if (const char* cache = std::getenv("BITLAB_CACHE"); cache != nullptr && *cache != '\0') {
    return cache;
  }
  const char* home = std::getenv("HOME");
  if (home == nullptr || *home == '\0') {
    throw BitLabError("cannot place the cache: neither BITLAB_CACHE nor HOME is set");
  }
  return absl::StrCat(home, "/.cache/bitlab");
}

std::string fetch_pretrained(const PretrainedSource& source) {
  const std::string cache = cache_dir() + "/" + source.name;
  std::string cache_problem;
  try {
    source.manifest.verify(cache);
    return cache;
  } catch (const BitLabError& e) {
    cache_problem = e.what();
  }
  for (const ManifestFile& file : source.manifest.files) {
    const std::string path = source.shipped_dir + "/" + file.file;
    if (!source.shipped_dir.empty() && std::ifstream(path).good()) continue;
    throw BitLabError(absl::StrCat(
        "pretrained '", source.name, "': the cache does not hold it (", cache_problem, ") and ",
        source.shipped_dir.empty()
            ? "no shipped copy was found (the zoo's are looked for in $BITLAB_ZOO_DIR, else "
              "in the Bazel runfiles of the running binary)"
            : "the shipped copy lacks " + path,
        " to install from; BitLab downloads nothing"));
  }
  make_directories(cache);
  // install() checks each file's bytes before they are written, so the cache now matches.
  for (const ManifestFile& file : source.manifest.files) install(source, file, cache);
  return cache;
}

}  // namespace bitlab
