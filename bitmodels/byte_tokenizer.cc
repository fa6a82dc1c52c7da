#include "bitmodels/byte_tokenizer.h"

#include <ATen/ops/empty.h>

#include "absl/strings/str_cat.h"
#include "bitcore/errors.h"

namespace bitlab {

at::Tensor ByteTokenizer::encode(const std::string& text) const {
  at::Tensor ids = at::empty({static_cast<int64_t>(text.size())}, at::kLong);
  int64_t* out = ids.data_ptr<int64_t>();
  for (size_t i = 0; i < text.size(); ++i) out[i] = static_cast<unsigned char>(text[i]);
  return ids;
}

std::string ByteTokenizer::decode(const at::Tensor& ids) const {
  if (ids.scalar_type() != at::kLong) {
    throw ShapeError(absl::StrCat("ByteTokenizer::decode: ids must be int64, got ",
                                  c10::toString(ids.scalar_type())));
  }
  const at::Tensor flat = ids.contiguous().cpu().view({-1});
  const int64_t* in = flat.data_ptr<int64_t>();
  std::string text;
  text.reserve(flat.numel());
  for (int64_t i = 0; i < flat.numel(); ++i) {
    if (in[i] < 0 || in[i] >= kVocabSize) {
      throw BitLabError(absl::StrCat("ByteTokenizer::decode: id ", in[i], " at position ", i,
                                     " is outside the byte vocabulary [0, 256)"));
    }
    text.push_back(static_cast<char>(in[i]));
  }
  return text;
}

}  // namespace bitlab
