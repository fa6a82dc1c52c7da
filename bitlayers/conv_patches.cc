#include "bitlayers/conv_patches.h"

#include <cstring>
#include <vector>

#include <ATen/Parallel.h>

namespace bitlab {
namespace internal {

namespace {

// A plain loop the compiler vectorizes (the library builds with the dynamic cost model).
template <typename T>
int32_t sum_values(const T* values, int64_t count) {
  int32_t sum = 0;
  for (int64_t i = 0; i < count; ++i) sum += static_cast<int32_t>(values[i]);
  return sum;
}

}  // namespace

std::vector<int32_t> pixel_channel_sums(const int8_t* input, const PatchGeometry& g,
                                        int64_t first_channel, int64_t group_channels) {
  const int64_t pixels = g.batch * g.in[0] * g.in[1] * g.in[2];
  std::vector<int32_t> sums(static_cast<size_t>(pixels));
  at::parallel_for(0, pixels, 4096, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      sums[p] = sum_values(input + p * g.channels + first_channel, group_channels);
    }
  });
  return sums;
}

template <typename T>
void gather_patches(const T* input, const PatchGeometry& g, int64_t first_channel,
                    int64_t group_channels, int64_t row_begin, int64_t row_end, T* rows,
                    const int32_t* pixel_sums, int32_t* row_sums) {
  const int64_t positions = g.positions();
  const int64_t row_length = g.kernel_positions() * group_channels;
  const size_t run_bytes = static_cast<size_t>(group_channels) * sizeof(T);
  // About 16 KB of output per task, so small layers do not pay for threads.
  const int64_t grain = 1 + (16384 / sizeof(T)) / (row_length > 0 ? row_length : 1);
  at::parallel_for(row_begin, row_end, grain, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t b = r / positions;
      const int64_t p = r % positions;
      const int64_t o[3] = {p / (g.out[1] * g.out[2]), (p / g.out[2]) % g.out[1], p % g.out[2]};
      T* dst = rows + (r - row_begin) * row_length;
      int32_t sum = 0;
      for (int64_t k0 = 0; k0 < g.kernel[0]; ++k0) {
        const int64_t i0 = o[0] * g.stride[0] + k0 * g.dilation[0] - g.pad_before[0];
        for (int64_t k1 = 0; k1 < g.kernel[1]; ++k1) {
          const int64_t i1 = o[1] * g.stride[1] + k1 * g.dilation[1] - g.pad_before[1];
          for (int64_t k2 = 0; k2 < g.kernel[2]; ++k2, dst += group_channels) {
            const int64_t i2 = o[2] * g.stride[2] + k2 * g.dilation[2] - g.pad_before[2];
            const bool inside =
                i0 >= 0 && i0 < g.in[0] && i1 >= 0 && i1 < g.in[1] && i2 >= 0 && i2 < g.in[2];
            if (!inside) {
              std::memset(dst, 0, run_bytes);
              continue;
            }
            const int64_t pixel = ((b * g.in[0] + i0) * g.in[1] + i1) * g.in[2] + i2;
            std::memcpy(dst, input + pixel * g.channels + first_channel, run_bytes);
            if (pixel_sums != nullptr) {
              sum += pixel_sums[pixel];
            } else if (row_sums != nullptr) {
              sum += sum_values(dst, group_channels);
            }
          }
        }
      }
      if (row_sums != nullptr) row_sums[r - row_begin] = sum;
    }
  });
}

template void gather_patches<int8_t>(const int8_t*, const PatchGeometry&, int64_t, int64_t, int64_t,
                                     int64_t, int8_t*, const int32_t*, int32_t*);
template void gather_patches<float>(const float*, const PatchGeometry&, int64_t, int64_t, int64_t,
                                    int64_t, float*, const int32_t*, int32_t*);

}  // namespace internal
}  // namespace bitlab
