#include "bitcore/io/safetensors.h"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <set>
#include <tuple>

#include <ATen/ops/empty.h>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bitcore/errors.h"
#include "bitcore/io/atomic_file.h"

namespace bitlab {
namespace {

// A header this large is a corrupt length field, not a real file (the format caps it too).
constexpr uint64_t kMaxHeaderBytes = uint64_t{100} << 20;

const std::vector<std::pair<std::string, at::ScalarType>>& dtype_names() {
  static const std::vector<std::pair<std::string, at::ScalarType>> names = {
      {"F64", at::kDouble}, {"F32", at::kFloat}, {"F16", at::kHalf},  {"BF16", at::kBFloat16},
      {"I64", at::kLong},   {"I32", at::kInt},   {"I16", at::kShort}, {"I8", at::kChar},
      {"U8", at::kByte},    {"BOOL", at::kBool}};
  return names;
}

std::string dtype_name(at::ScalarType type, const std::string& path, const std::string& name) {
  for (const auto& [text, value] : dtype_names()) {
    if (value == type) return text;
  }
  throw BitLabError(absl::StrCat("save_safetensors: ", path, ": tensor \"", name, "\" has dtype ",
                                 c10::toString(type), ", which safetensors files cannot hold"));
}

at::ScalarType dtype_from_name(const std::string& text, const std::string& where) {
  std::vector<std::string> known;
  for (const auto& [name, value] : dtype_names()) {
    if (name == text) return value;
    known.push_back(name);
  }
  throw BitLabError(absl::StrCat(where, ": unknown dtype \"", text,
                                 "\" (known: ", absl::StrJoin(known, ", "), ")"));
}

}  // namespace

const at::Tensor& SafetensorsContents::at(const std::string& name) const {
  for (const auto& [key, tensor] : tensors) {
    if (key == name) return tensor;
  }
  std::vector<std::string> names;
  for (const auto& entry : tensors) names.push_back(entry.first);
  throw BitLabError(absl::StrCat("safetensors: no tensor \"", name, "\"; the file has ",
                                 names.empty() ? "none" : absl::StrJoin(names, ", ")));
}

bool SafetensorsContents::contains(const std::string& name) const {
  for (const auto& entry : tensors) {
    if (entry.first == name) return true;
  }
  return false;
}

void save_safetensors(const std::string& path,
                      const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<at::Tensor> data;
  std::set<std::string> seen;
  uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    if (name.empty() || name == "__metadata__" || !seen.insert(name).second) {
      throw BitLabError(absl::StrCat("save_safetensors: ", path, ": tensor name \"", name,
                                     "\" is empty, reserved or repeated"));
    }
    if (!tensor.defined()) {
      throw BitLabError(
          absl::StrCat("save_safetensors: ", path, ": tensor \"", name, "\" is undefined"));
    }
    const at::Tensor cpu = tensor.detach().cpu().contiguous();
    const uint64_t bytes = static_cast<uint64_t>(cpu.numel()) * cpu.element_size();
    header[name] = {{"dtype", dtype_name(cpu.scalar_type(), path, name)},
                    {"shape", cpu.sizes().vec()},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    data.push_back(cpu);
  }
  std::string text = header.dump();
  // Pad with spaces so the tensor bytes start 8-byte aligned, as the reference writer does.
  text.append((8 - (8 + text.size()) % 8) % 8, ' ');
  uint8_t length[8];
  for (int i = 0; i < 8; ++i) length[i] = static_cast<uint8_t>(uint64_t{text.size()} >> (8 * i));
  std::vector<ByteSpan> pieces = {{length, 8}, {text.data(), text.size()}};
  for (const at::Tensor& t : data) {
    pieces.push_back({t.data_ptr(), static_cast<size_t>(t.numel()) * t.element_size()});
  }
  write_file_atomically(path, pieces);
}

SafetensorsContents load_safetensors(const std::string& path) {
  const std::string where = absl::StrCat("load_safetensors: ", path);
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (file == nullptr) throw BitLabError(absl::StrCat(where, ": ", std::strerror(errno)));
  if (std::fseek(file.get(), 0, SEEK_END) != 0) {
    throw BitLabError(absl::StrCat(where, ": ", std::strerror(errno)));
  }
  const uint64_t file_size = static_cast<uint64_t>(std::ftell(file.get()));
  std::rewind(file.get());
  uint8_t length[8];
  if (file_size < 8 || std::fread(length, 1, 8, file.get()) != 8) {
    throw BitLabError(
        absl::StrCat(where, ": ", file_size, " bytes, too short for the 8-byte header length"));
  }
  uint64_t header_size = 0;
  for (int i = 0; i < 8; ++i) header_size |= uint64_t{length[i]} << (8 * i);
  if (header_size > kMaxHeaderBytes || header_size > file_size - 8) {
    throw BitLabError(absl::StrCat(where, ": header length ", header_size, " exceeds the ",
                                   file_size - 8, " bytes after the length field"));
  }
  std::string text(header_size, '\0');
  if (std::fread(text.data(), 1, header_size, file.get()) != header_size) {
    throw BitLabError(absl::StrCat(where, ": cannot read the ", header_size, "-byte header"));
  }
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw BitLabError(absl::StrCat(where, ": the header is not JSON: ", e.what()));
  }
  if (!header.is_object()) throw BitLabError(absl::StrCat(where, ": the header is not an object"));

  SafetensorsContents contents;
  struct Entry {
    std::string name;
    at::ScalarType dtype;
    std::vector<int64_t> shape;
    uint64_t begin, end;
  };
  std::vector<Entry> entries;
  for (const auto& [name, value] : header.items()) {
    if (name == "__metadata__") {
      if (!value.is_object()) {
        throw BitLabError(absl::StrCat(where, ": __metadata__ is not an object"));
      }
      for (const auto& [key, item] : value.items()) {
        if (!item.is_string()) {
          throw BitLabError(
              absl::StrCat(where, ": __metadata__ value \"", key, "\" is not a string"));
        }
        contents.metadata[key] = item.get<std::string>();
      }
      continue;
    }
    const std::string tensor_where = absl::StrCat(where, ": tensor \"", name, "\"");
    try {
      Entry entry{name, dtype_from_name(value.at("dtype").get<std::string>(), tensor_where),
                  value.at("shape").get<std::vector<int64_t>>(), 0, 0};
      const auto offsets = value.at("data_offsets").get<std::vector<uint64_t>>();
      if (offsets.size() != 2 || offsets[0] > offsets[1]) {
        throw BitLabError(absl::StrCat(tensor_where, ": data_offsets must be [begin, end]"));
      }
      entry.begin = offsets[0];
      entry.end = offsets[1];
      uint64_t numel = 1;
      for (int64_t d : entry.shape) {
        if (d < 0) throw BitLabError(absl::StrCat(tensor_where, ": negative dimension ", d));
        numel *= static_cast<uint64_t>(d);
      }
      const uint64_t expected = numel * c10::elementSize(entry.dtype);
      if (entry.end - entry.begin != expected) {
        throw BitLabError(absl::StrCat(tensor_where, ": shape [", absl::StrJoin(entry.shape, ", "),
                                       "] needs ", expected, " bytes, its data_offsets span ",
                                       entry.end - entry.begin));
      }
      entries.push_back(std::move(entry));
    } catch (const nlohmann::json::exception& e) {
      throw BitLabError(absl::StrCat(tensor_where, ": malformed entry: ", e.what()));
    }
  }
  // The byte ranges must tile the data section exactly: no overlap, no gap, nothing after.
  // Empty tensors ([k, k]) sort before the tensor that starts where they sit.
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return std::tie(a.begin, a.end) < std::tie(b.begin, b.end);
  });
  const uint64_t data_size = file_size - 8 - header_size;
  uint64_t expected_begin = 0;
  for (const Entry& entry : entries) {
    if (entry.begin != expected_begin) {
      throw BitLabError(absl::StrCat(where, ": tensor \"", entry.name, "\" starts at byte ",
                                     entry.begin, ", expected ", expected_begin,
                                     " (byte ranges overlap or leave a gap)"));
    }
    expected_begin = entry.end;
  }
  if (expected_begin != data_size) {
    throw BitLabError(absl::StrCat(where, ": the tensors cover ", expected_begin,
                                   " bytes but the file holds ", data_size,
                                   " after the header (truncated or trailing bytes)"));
  }
  for (const Entry& entry : entries) {
    at::Tensor tensor = at::empty(entry.shape, at::TensorOptions().dtype(entry.dtype));
    const size_t bytes = static_cast<size_t>(entry.end - entry.begin);
    if (bytes > 0 && std::fread(tensor.data_ptr(), 1, bytes, file.get()) != bytes) {
      throw BitLabError(
          absl::StrCat(where, ": tensor \"", entry.name, "\": cannot read its ", bytes, " bytes"));
    }
    contents.tensors.emplace_back(entry.name, std::move(tensor));
  }
  return contents;
}

}  // namespace bitlab
