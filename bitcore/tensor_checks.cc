#include "bitcore/tensor_checks.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bitcore/errors.h"

namespace bitlab {

std::string shape_string(const at::Tensor& t) {
  if (!t.defined()) return "(undefined)";
  return absl::StrCat("[", absl::StrJoin(t.sizes(), ", "), "]");
}

void check_defined(const char* function, const char* name, const at::Tensor& t) {
  if (!t.defined()) throw ShapeError(absl::StrCat(function, ": ", name, " is an undefined tensor"));
}

void check_floating(const char* function, const char* name, const at::Tensor& t) {
  check_defined(function, name, t);
  if (!at::isFloatingType(t.scalar_type())) {
    throw ShapeError(absl::StrCat(function, ": ", name, " has dtype ",
                                  c10::toString(t.scalar_type()),
                                  ", expected a floating-point tensor"));
  }
}

void check_dtype(const char* function, const char* name, const at::Tensor& t,
                 at::ScalarType expected) {
  check_defined(function, name, t);
  if (t.scalar_type() != expected) {
    throw ShapeError(absl::StrCat(function, ": ", name, " has dtype ",
                                  c10::toString(t.scalar_type()), ", expected ",
                                  c10::toString(expected)));
  }
}

void check_min_rank(const char* function, const char* name, const at::Tensor& t, int64_t rank) {
  check_defined(function, name, t);
  if (t.dim() < rank) {
    throw ShapeError(absl::StrCat(function, ": ", name, " has shape ", shape_string(t),
                                  ", expected at least ", rank, " dimension(s)"));
  }
}

void check_rank(const char* function, const char* name, const at::Tensor& t, int64_t rank) {
  check_defined(function, name, t);
  if (t.dim() != rank) {
    throw ShapeError(absl::StrCat(function, ": ", name, " has shape ", shape_string(t),
                                  ", expected ", rank, " dimension(s)"));
  }
}

void check_not_empty(const char* function, const char* name, const at::Tensor& t) {
  check_defined(function, name, t);
  if (t.numel() == 0) {
    throw ShapeError(absl::StrCat(function, ": ", name, " has shape ", shape_string(t),
                                  ", expected at least one element"));
  }
}

void check_cpu(const char* function, const char* name, const at::Tensor& t) {
  check_defined(function, name, t);
  if (!t.device().is_cpu()) {
    throw ShapeError(absl::StrCat(function, ": ", name, " is on ", t.device().str(),
                                  "; this BitLab build has CPU kernels only (CUDA needs "
                                  "--config=cuda and a CUDA-enabled libtorch)"));
  }
}

}  // namespace bitlab
