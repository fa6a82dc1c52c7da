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
#include <vector>

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

/// Each input pixel's sum over the channels [first_channel, first_channel + group_channels):
/// [batch * in[0] * in[1] * in[2]] values. Where patches overlap, a row's sum is the sum of
/// the pixel sums its patch covers, which costs one pass over the input instead of one over
/// the prod(kernel) times larger rows.
std::vector<int32_t> pixel_channel_sums(const int8_t* input, const PatchGeometry& geometry,
                                        int64_t first_channel, int64_t group_channels);

/// input: [batch, in[0], in[1], in[2], channels], dense. Writes the patch rows [row_begin,
/// row_end) of the [batch * positions(), kernel_positions() * group_channels] patch matrix
/// for the channels [first_channel, first_channel + group_channels) to `rows` (row_begin
/// first), so a caller can work through the matrix in cache-sized chunks without ever
/// holding all of it. `row_sums`, if not null, gets each written row's sum for the integer
/// kernels, from `pixel_sums` (pixel_channel_sums) if given, else summed as the values are
/// copied (the better choice for 1x1 kernels, whose rows are single pixels). Runs on
/// libtorch's thread pool. T is int8_t or float.
template <typename T>
void gather_patches(const T* input, const PatchGeometry& geometry, int64_t first_channel,
                    int64_t group_channels, int64_t row_begin, int64_t row_end, T* rows,
                    const int32_t* pixel_sums, int32_t* row_sums);

}  // namespace internal
}  // namespace bitlab

#endif  // BITLAB_BITLAYERS_CONV_PATCHES_H_
