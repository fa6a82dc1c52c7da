#include "bitcore/io/safetensors.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <ATen/ops/arange.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/tensor.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "bitcore/errors.h"
#include "bitcore/io/atomic_file.h"

namespace bitlab {
namespace {

using ::testing::HasSubstr;

std::string temp_path(const std::string& name) { return ::testing::TempDir() + "/" + name; }

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_bytes(const std::string& path, const std::string& bytes) {
  write_file_atomically(path, {{bytes.data(), bytes.size()}});
}

// A file made by hand: 8-byte length, the JSON header, then `data`.
std::string handmade(const nlohmann::json& header, const std::string& data) {
  const std::string text = header.dump();
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>(uint64_t{text.size()} >> (8 * i));
  return bytes + text + data;
}

void expect_load_error(const std::string& bytes, const std::string& message) {
  const std::string path = temp_path("bad.safetensors");
  write_bytes(path, bytes);
  try {
    load_safetensors(path);
    FAIL() << "expected an error containing: " << message;
  } catch (const BitLabError& e) {
    EXPECT_THAT(e.what(), HasSubstr(message));
    EXPECT_THAT(e.what(), HasSubstr("bad.safetensors"));
  }
}

TEST(SafetensorsTest, RoundTripsEveryDtypeAndShape) {
  at::manual_seed(0);
  const std::vector<std::pair<std::string, at::Tensor>> tensors = {
      {"leading_empty", at::randn({0})},  // [0, 0], where fc.weight starts too
      {"fc.weight", at::randn({3, 5})},
      {"fc.bias", at::randn({3}).to(at::kDouble)},
      {"scalar", at::tensor(2.5f).reshape({})},
      {"empty", at::randn({0, 4})},
      {"half", at::randn({2, 2}).to(at::kHalf)},
      {"bf16", at::randn({7}).to(at::kBFloat16)},
      {"packed", at::arange(0, 250, at::kByte)},
      {"codes", at::arange(-100, 100, at::kChar).reshape({10, 20})},
      {"steps", at::arange(0, 9, at::kLong)},
      {"index", at::arange(0, 9, at::kInt).to(at::kShort)},
      {"mask", at::randn({6}).gt(0)},
      {"strided", at::randn({4, 6}).t()},  // not contiguous
  };
  const std::string path = temp_path("round_trip.safetensors");
  save_safetensors(path, tensors, {{"format", "pt"}, {"bitlab", "1"}});
  const SafetensorsContents contents = load_safetensors(path);
  ASSERT_EQ(contents.tensors.size(), tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    EXPECT_EQ(contents.tensors[i].first, tensors[i].first);  // kept in the order written
    EXPECT_TRUE(at::equal(contents.at(tensors[i].first), tensors[i].second)) << tensors[i].first;
    EXPECT_EQ(contents.at(tensors[i].first).scalar_type(), tensors[i].second.scalar_type());
  }
  EXPECT_EQ(contents.metadata.at("format"), "pt");
  EXPECT_TRUE(contents.contains("mask"));
  EXPECT_FALSE(contents.contains("nothing"));
}

TEST(SafetensorsTest, WritesTheStandardLayout) {
  const std::string path = temp_path("layout.safetensors");
  save_safetensors(path, {{"a", at::tensor({1.0f, 2.0f})}, {"b", at::tensor({3}, at::kChar)}});
  const std::string bytes = read_bytes(path);
  uint64_t header_size = 0;
  for (int i = 0; i < 8; ++i) header_size |= uint64_t{static_cast<uint8_t>(bytes[i])} << (8 * i);
  EXPECT_EQ((8 + header_size) % 8, 0u);  // tensor data starts aligned
  const nlohmann::json header = nlohmann::json::parse(bytes.substr(8, header_size));
  EXPECT_EQ(header["a"]["dtype"], "F32");
  EXPECT_EQ(header["a"]["shape"], nlohmann::json::array({2}));
  EXPECT_EQ(header["a"]["data_offsets"], nlohmann::json::array({0, 8}));
  EXPECT_EQ(header["b"]["data_offsets"], nlohmann::json::array({8, 9}));
  ASSERT_EQ(bytes.size(), 8 + header_size + 9);
  float first = 0;
  std::memcpy(&first, bytes.data() + 8 + header_size, 4);
  EXPECT_EQ(first, 1.0f);
  EXPECT_EQ(bytes.back(), 3);
}

TEST(SafetensorsTest, CorruptFilesAreNamed) {
  const nlohmann::json good = {{"w", {{"dtype", "F32"}, {"shape", {2}}, {"data_offsets", {0, 8}}}}};
  const std::string data(8, '\0');
  expect_load_error("abc", "too short");
  expect_load_error(handmade(good, data).substr(0, 20), "header length");
  expect_load_error(handmade(good, data.substr(0, 4)), "truncated or trailing");
  expect_load_error(handmade(good, data + "xx"), "truncated or trailing");
  std::string not_json = handmade(good, data);
  not_json[8] = '#';  // the header's opening brace
  expect_load_error(not_json, "not JSON");
  nlohmann::json bad_dtype = good;
  bad_dtype["w"]["dtype"] = "F8";
  expect_load_error(handmade(bad_dtype, data), "tensor \"w\": unknown dtype \"F8\"");
  nlohmann::json bad_shape = good;
  bad_shape["w"]["shape"] = {3};
  expect_load_error(handmade(bad_shape, data), "shape [3] needs 12 bytes");
  const nlohmann::json overlap = {
      {"a", {{"dtype", "F32"}, {"shape", {2}}, {"data_offsets", {0, 8}}}},
      {"b", {{"dtype", "F32"}, {"shape", {1}}, {"data_offsets", {4, 8}}}}};
  expect_load_error(handmade(overlap, data), "overlap or leave a gap");
  nlohmann::json missing_field = good;
  missing_field["w"].erase("shape");
  expect_load_error(handmade(missing_field, data), "tensor \"w\": malformed entry");
}

TEST(SafetensorsTest, BadSavesAndLookupsAreNamed) {
  const std::string path = temp_path("bad_save.safetensors");
  try {
    save_safetensors(path, {{"x", at::randn({2})}, {"x", at::randn({2})}});
    FAIL();
  } catch (const BitLabError& e) {
    EXPECT_THAT(e.what(), HasSubstr("\"x\" is empty, reserved or repeated"));
  }
  try {
    save_safetensors(path, {{"z", at::randn({2}).to(at::kComplexFloat)}});
    FAIL();
  } catch (const BitLabError& e) {
    EXPECT_THAT(e.what(), HasSubstr("tensor \"z\" has dtype ComplexFloat"));
  }
  save_safetensors(path, {{"x", at::randn({2})}});
  try {
    load_safetensors(path).at("y");
    FAIL();
  } catch (const BitLabError& e) {
    EXPECT_THAT(e.what(), HasSubstr("no tensor \"y\"; the file has x"));
  }
  try {
    load_safetensors(temp_path("missing.safetensors"));
    FAIL();
  } catch (const BitLabError& e) {
    EXPECT_THAT(e.what(), HasSubstr("missing.safetensors"));
  }
}

TEST(AtomicFileTest, ReplacesContentsAndLeavesNoTemporaryFile) {
  const std::string path = temp_path("atomic.txt");
  write_bytes(path, "first version, longer");
  write_bytes(path, "second");
  EXPECT_EQ(read_bytes(path), "second");
  std::FILE* temporary = std::fopen((path + ".tmp." + std::to_string(::getpid())).c_str(), "rb");
  EXPECT_EQ(temporary, nullptr);
  if (temporary != nullptr) std::fclose(temporary);
  try {
    write_bytes(temp_path("no_such_directory/file.txt"), "x");
    FAIL();
  } catch (const BitLabError& e) {
    EXPECT_THAT(e.what(), HasSubstr("no_such_directory/file.txt"));
  }
}

}  // namespace
}  // namespace bitlab
