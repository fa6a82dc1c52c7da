// The C++ half of safetensors_interop_test: writes a file of known tensors, or checks that a
// file (written by Python's safetensors package) holds exactly those tensors.
//
//   safetensors_interop_tool write <path>
//   safetensors_interop_tool check <path>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include <ATen/TensorOperators.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/equal.h>

#include "bitcore/errors.h"
#include "bitcore/io/safetensors.h"

namespace {

// The same formulas as known_tensors() in safetensors_interop_test.py.
std::vector<std::pair<std::string, at::Tensor>> known_tensors() {
  return {
      {"f32", at::arange(12, at::kFloat).reshape({3, 4}) * 0.5},
      {"f64", at::arange(6, at::kDouble) / 3.0},
      {"f16", (at::arange(8, at::kFloat) * 0.25).to(at::kHalf)},
      {"i64", at::arange(4, at::kLong) * 1000000007},
      {"i32", at::arange(-3, 3, at::kInt)},
      {"i8", at::arange(-5, 5, at::kChar)},
      {"u8", at::arange(0, 200, at::kByte).reshape({10, 20})},
      {"flags", at::arange(5, at::kLong).remainder(2).eq(0)},
  };
}

int check(const std::string& path) {
  const bitlab::SafetensorsContents contents = bitlab::load_safetensors(path);
  int failures = 0;
  for (const auto& [name, expected] : known_tensors()) {
    const at::Tensor& got = contents.at(name);
    if (got.scalar_type() != expected.scalar_type() || !at::equal(got, expected)) {
      std::fprintf(stderr, "tensor %s differs from the expected values\n", name.c_str());
      ++failures;
    }
  }
  if (contents.metadata.count("writer") == 0 || contents.metadata.at("writer") != "python") {
    std::fprintf(stderr, "metadata \"writer\" is missing or not \"python\"\n");
    ++failures;
  }
  std::printf("checked %zu tensors: %s\n", contents.tensors.size(), failures ? "FAIL" : "ok");
  return failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3 || (std::strcmp(argv[1], "write") != 0 && std::strcmp(argv[1], "check") != 0)) {
    std::fprintf(stderr, "usage: %s write|check <path>\n", argv[0]);
    return 2;
  }
  try {
    if (std::strcmp(argv[1], "write") == 0) {
      bitlab::save_safetensors(argv[2], known_tensors(), {{"writer", "bitlab"}});
      return 0;
    }
    return check(argv[2]);
  } catch (const bitlab::BitLabError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
