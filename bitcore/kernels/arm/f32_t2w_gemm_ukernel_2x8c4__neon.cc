// float32 activations x ternary weights over the c4 layout, plain NEON (armv8-a); the
// micro-kernel itself is f32_t2w_gemm.inc.
#include "bitcore/kernels/arm/ukernels.h"

#if defined(__aarch64__) && defined(__ARM_NEON)

#include <arm_neon.h>

namespace bitlab {
namespace internal {
namespace {

#include "bitcore/kernels/arm/f32_t2w_gemm.inc"

}  // namespace

void f32_t2w_gemm_ukernel_2x8c4__neon(const F32BlockedArgs& a) { f32_gemm<4>(a); }

}  // namespace internal
}  // namespace bitlab

#else  // not an aarch64 NEON build

namespace bitlab {
namespace internal {
void f32_t2w_gemm_ukernel_2x8c4__neon(const F32BlockedArgs&) { __builtin_trap(); }
}  // namespace internal
}  // namespace bitlab

#endif
