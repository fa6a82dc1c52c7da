// Convolution patches (im2col) from a channels-last input, for BitConv's eval path.
//
// Patches are gathered with the channels innermost: row r (one output position) holds, for
// each kernel offset in order, the group's channels of the input at that offset. Channels
// last makes every piece a contiguous run of `group_channels` values, so the gather is a
// sequence of short memcpys instead of a strided copy one value at a time; the weight is
// reordered the same way ([out, kernel..., channels]) when it is packed for the kernel.
#ifndef BITLAB_BITLAYERS_CONV_PATCHES_H_
#define BITLAB_BITLAYERS_CONV_PATCHES_H_

#include <cstdint>

namespace bitlab {
namespace internal {

/// Up to three spatial dimensions; unused ones have size 1, kernel 1, stride 1, dilation 1
/// and padding 0.
struct PatchGeometry {
  int64_t batch = 0;
  int64_t channels = 0;  // all channels of the input (its innermost dimension)
  int64_t in[3] = {1, 1, 1};
  int64_t out[3] = {1, 1, 1};
  int64_t kernel[3] = {1, 1, 1};
  int64_t stride[3] = {1, 1, 1};
  int64_t dilation[3] = {1, 1, 1};
  int64_t pad_before[3] = {0, 0, 0};  // zeros outside the input

  int64_t positions() const { return out[0] * out[1] * out[2]; }
  int64_t kernel_positions() const { return kernel[0] * kernel[1] * kernel[2]; }
};

/// input: [batch, in[0], in[1], in[2], channels], dense. rows: [batch * positions(),
/// kernel_positions() * group_channels] for the channels [first_channel, first_channel +
/// group_channels). `row_sums`, if not null ([batch * positions()]), gets each row's sum for
/// the integer kernels, at the cost of one pass over the input rather than over the rows,
/// which are prod(kernel) times larger. Runs on libtorch's thread pool. T is int8_t or float.
template <typename T>
void gather_patches(const T* input, const PatchGeometry& geometry, int64_t first_channel,
                    int64_t group_channels, T* rows, int32_t* row_sums);

}  // namespace internal
}  // namespace bitlab

#endif  // BITLAB_BITLAYERS_CONV_PATCHES_H_
