#include "bitmodels/manifest.h"

#include <sys/stat.h>

#include "absl/strings/str_cat.h"
#include "bitcore/errors.h"
#include "bitcore/io/atomic_file.h"
#include "bitcore/io/sha256.h"
#include "bitmodels/config_fields.h"
#include "bitmodels/json_file.h"

namespace bitlab {
namespace {

// -1 when `path` is not a regular file.
int64_t file_size(const std::string& path) {
  struct stat info;
  if (::stat(path.c_str(), &info) != 0 || !S_ISREG(info.st_mode)) return -1;
  return static_cast<int64_t>(info.st_size);
}

bool is_sha256_hex(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

Manifest Manifest::describe(const std::string& name, const std::string& dir,
                            const std::vector<std::pair<std::string, std::string>>& file_formats) {
  Manifest manifest;
  manifest.name = name;
  for (const auto& [file, format] : file_formats) {
    const std::string path = dir + "/" + file;
    const int64_t size = file_size(path);
    if (size < 0) throw BitLabError(absl::StrCat("Manifest: ", path, " is not a file"));
    manifest.files.push_back({file, format, sha256_file_hex(path), size});
  }
  return manifest;
}

Manifest Manifest::from_json(const nlohmann::json& json, const std::string& context) {
  ConfigFields fields(json, context);
  Manifest manifest;
  manifest.name = fields.get_string("name", "");
  manifest.dataset = fields.get_string("dataset", "");
  if (const nlohmann::json* metrics = fields.get_raw("metrics")) {
    ConfigFields metric_fields(*metrics, context + ": metrics");
    for (const auto& item : metrics->items()) {
      manifest.metrics[item.key()] = metric_fields.get_double(item.key(), 0);
    }
  }
  const nlohmann::json* files = fields.get_raw("files");
  if (files == nullptr || !files->is_array() || files->empty()) {
    throw ConfigError(absl::StrCat(context, ": field 'files' must be a non-empty list"));
  }
  for (size_t i = 0; i < files->size(); ++i) {
    ConfigFields entry((*files)[i], absl::StrCat(context, ": files[", i, "]"));
    ManifestFile file;
    file.file = entry.get_string("file", "");
    file.format = entry.get_choice("format", "", {"safetensors", "json", "markdown"});
    file.sha256 = entry.get_string("sha256", "");
    file.size = entry.get_int("size", -1, 0);
    entry.check_all_read();
    if (file.file.empty() || file.file.find('/') != std::string::npos || file.file[0] == '.') {
      throw ConfigError(entry.describe("file") + " must be a plain file name, got \"" + file.file +
                        "\"");
    }
    if (!is_sha256_hex(file.sha256)) {
      throw ConfigError(entry.describe("sha256") + " must be 64 lowercase hex digits, got \"" +
                        file.sha256 + "\"");
    }
    if (file.size < 0) throw ConfigError(entry.describe("size") + " is missing");
    manifest.files.push_back(file);
  }
  fields.check_all_read();
  return manifest;
}

Manifest Manifest::read(const std::string& path) {
  return from_json(read_json_file(path, "manifest"), path);
}

nlohmann::json Manifest::to_json() const {
  nlohmann::json json;
  json["name"] = name;
  if (!dataset.empty()) json["dataset"] = dataset;
  if (!metrics.empty()) json["metrics"] = metrics;
  json["files"] = nlohmann::json::array();
  for (const ManifestFile& file : files) {
    json["files"].push_back({{"file", file.file},
                             {"format", file.format},
                             {"sha256", file.sha256},
                             {"size", file.size}});
  }
  return json;
}

void Manifest::write(const std::string& dir) const {
  const std::string text = to_json().dump(2) + "\n";
  write_file_atomically(dir + "/manifest.json", {{text.data(), text.size()}});
}

const ManifestFile* Manifest::find(const std::string& file) const {
  for (const ManifestFile& entry : files) {
    if (entry.file == file) return &entry;
  }
  return nullptr;
}

void Manifest::verify(const std::string& dir) const {
  for (const ManifestFile& file : files) {
    const std::string path = dir + "/" + file.file;
    const int64_t size = file_size(path);
    if (size < 0) {
      throw BitLabError(absl::StrCat(path, ": missing (listed in the manifest of '", name, "')"));
    }
    if (size != file.size) {
      throw BitLabError(absl::StrCat(path, ": size ", size, " bytes, the manifest says ", file.size,
                                     " (truncated or replaced?)"));
    }
    const std::string sha256 = sha256_file_hex(path);
    if (sha256 != file.sha256) {
      throw BitLabError(absl::StrCat(path, ": sha256 ", sha256, " does not match the manifest's ",
                                     file.sha256, "; refusing to load a changed file"));
    }
  }
}

}  // namespace bitlab
