// Argument checks shared by bitcore's libtorch-facing functions. Each throws ShapeError with
// a message naming the function, the argument, what was expected and what was found.
#ifndef BITLAB_BITCORE_TENSOR_CHECKS_H_
#define BITLAB_BITCORE_TENSOR_CHECKS_H_

#include <string>

#include <ATen/core/Tensor.h>

namespace bitlab {

/// "[2, 3, 4]".
std::string shape_string(const at::Tensor& t);

void check_defined(const char* function, const char* name, const at::Tensor& t);
void check_floating(const char* function, const char* name, const at::Tensor& t);
void check_dtype(const char* function, const char* name, const at::Tensor& t,
                 at::ScalarType expected);
void check_min_rank(const char* function, const char* name, const at::Tensor& t, int64_t rank);
void check_rank(const char* function, const char* name, const at::Tensor& t, int64_t rank);
void check_not_empty(const char* function, const char* name, const at::Tensor& t);
void check_cpu(const char* function, const char* name, const at::Tensor& t);

}  // namespace bitlab

#endif  // BITLAB_BITCORE_TENSOR_CHECKS_H_
