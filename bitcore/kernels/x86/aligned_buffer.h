// A 64-byte aligned scratch buffer that grows to the largest size asked for and is then
// reused, so a kernel's steady-state calls allocate nothing. Plain C++, no ISA flags.
#ifndef BITLAB_BITCORE_KERNELS_X86_ALIGNED_BUFFER_H_
#define BITLAB_BITCORE_KERNELS_X86_ALIGNED_BUFFER_H_

#include <cstddef>
#include <cstdlib>
#include <memory>
#include <new>

namespace bitlab {
namespace internal {

class AlignedBuffer {
 public:
  void* get(size_t bytes) {
    if (bytes > bytes_) {
      data_.reset(std::aligned_alloc(64, (bytes + 63) / 64 * 64));
      if (!data_) throw std::bad_alloc();
      bytes_ = bytes;
    }
    return data_.get();
  }

 private:
  struct FreeDeleter {
    void operator()(void* p) const { std::free(p); }
  };
  std::unique_ptr<void, FreeDeleter> data_;
  size_t bytes_ = 0;
};

}  // namespace internal
}  // namespace bitlab

#endif  // BITLAB_BITCORE_KERNELS_X86_ALIGNED_BUFFER_H_
