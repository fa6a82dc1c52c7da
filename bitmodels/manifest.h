// Manifest: the list of files a saved model consists of, each with its format, size and
// SHA-256, plus what the weights were trained on and how well they do. save_pretrained writes
// one (manifest.json, after the files it lists); from_pretrained refuses files that do not
// match it, so a truncated or altered file is an error naming the file, never a silently
// different model.
//
// Example:
//   bitlab::Manifest manifest = bitlab::Manifest::read("model/manifest.json");
//   manifest.verify("model");   // throws BitLabError naming a missing or changed file
#ifndef BITLAB_BITMODELS_MANIFEST_H_
#define BITLAB_BITMODELS_MANIFEST_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace bitlab {

struct ManifestFile {
  /// Name relative to the model directory, e.g. "model.safetensors".
  std::string file;
  /// "safetensors", "json" or "markdown".
  std::string format;
  /// Lowercase hex.
  std::string sha256;
  int64_t size = 0;
};

struct Manifest {
  /// The model's name (a zoo entry's, or what the user called it).
  std::string name;
  std::vector<ManifestFile> files;
  /// The data set the weights were trained on, if any ("fashion-mnist").
  std::string dataset;
  /// Measured metrics, e.g. {"test_accuracy": 0.912}.
  std::map<std::string, double> metrics;

  /// Describes `files` (names relative to `dir`) as they are now.
  static Manifest describe(const std::string& name, const std::string& dir,
                           const std::vector<std::pair<std::string, std::string>>& file_formats);
  /// Validates every field; errors name `context` and the field.
  static Manifest from_json(const nlohmann::json& json, const std::string& context);
  static Manifest read(const std::string& path);
  nlohmann::json to_json() const;
  /// Writes manifest.json into `dir`, atomically.
  void write(const std::string& dir) const;

  /// The entry for `file`, or nullptr.
  const ManifestFile* find(const std::string& file) const;
  /// Checks that every listed file exists in `dir` with the listed size and SHA-256; throws
  /// BitLabError naming the file, what was expected and what was found.
  void verify(const std::string& dir) const;
};

}  // namespace bitlab

#endif  // BITLAB_BITMODELS_MANIFEST_H_
