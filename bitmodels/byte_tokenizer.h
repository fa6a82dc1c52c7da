// ByteTokenizer: text <-> token ids, one token per UTF-8 byte (vocabulary 256). Lossless for
// any text and needs no vocabulary file, which is what the small zoo language models use.
//
// Example:
//   bitlab::ByteTokenizer tokenizer;
//   torch::Tensor ids = tokenizer.encode("hello");   // int64 [5]
//   std::string text = tokenizer.decode(ids);        // "hello"
#ifndef BITLAB_BITMODELS_BYTE_TOKENIZER_H_
#define BITLAB_BITMODELS_BYTE_TOKENIZER_H_

#include <cstdint>
#include <string>

#include <ATen/core/Tensor.h>

namespace bitlab {

class ByteTokenizer {
 public:
  static constexpr int64_t kVocabSize = 256;

  /// int64 [text.size()].
  at::Tensor encode(const std::string& text) const;
  /// Any shape of int64 ids, read in order; an id outside [0, 256) throws BitLabError naming
  /// it and its position.
  std::string decode(const at::Tensor& ids) const;
};

}  // namespace bitlab

#endif  // BITLAB_BITMODELS_BYTE_TOKENIZER_H_
