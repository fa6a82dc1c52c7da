// BitLab's exception types. Every error BitLab raises derives from BitLabError, a
// std::runtime_error, so callers can catch one type; the subclasses say which kind of input
// was wrong. Messages name the field, file or shape at fault, what was expected and what was
// found.
//
// Example:
//   try {
//     auto config = bitlab::BitQuantConfig::from_string("ai4_wpt");
//   } catch (const bitlab::QuantizationError& e) {
//     std::cerr << e.what();  // lists the valid strings
//   }
#ifndef BITLAB_BITCORE_ERRORS_H_
#define BITLAB_BITCORE_ERRORS_H_

#include <stdexcept>
#include <string>

namespace bitlab {

/// The base of every error BitLab throws.
class BitLabError : public std::runtime_error {
 public:
  explicit BitLabError(const std::string& message) : std::runtime_error(message) {}
};

/// A quantization setting is invalid: a config field, a preset or a compact config string.
class QuantizationError : public BitLabError {
 public:
  using BitLabError::BitLabError;
};

/// No kernel with the requested name exists, is built, runs on this CPU, or fits the config.
class KernelNotFoundError : public BitLabError {
 public:
  using BitLabError::BitLabError;
};

/// A tensor argument has the wrong shape, dtype or device.
class ShapeError : public BitLabError {
 public:
  using BitLabError::BitLabError;
};

}  // namespace bitlab

#endif  // BITLAB_BITCORE_ERRORS_H_
