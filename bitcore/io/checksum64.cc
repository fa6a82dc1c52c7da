#include "bitcore/io/checksum64.h"

#include <cstring>

namespace bitlab {
namespace {

// Odd 64-bit constants with well-mixed bits (from the fractional parts of irrational numbers).
constexpr uint64_t kPrime1 = 0x9E3779B97F4A7C15ull;
constexpr uint64_t kPrime2 = 0xC2B2AE3D27D4EB4Full;
constexpr uint64_t kPrime3 = 0x165667B19E3779F9ull;

uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

uint64_t load64(const unsigned char* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

uint64_t mix_lane(uint64_t lane, uint64_t word) {
  return rotl(lane + word * kPrime2, 31) * kPrime1;
}

// Spreads every input bit over the whole result.
uint64_t avalanche(uint64_t h) {
  h ^= h >> 33;
  h *= kPrime2;
  h ^= h >> 29;
  h *= kPrime3;
  h ^= h >> 32;
  return h;
}

}  // namespace

uint64_t checksum64(const void* data, size_t size) {
  const auto* p = static_cast<const unsigned char*>(data);
  uint64_t lanes[4] = {kPrime1 + kPrime2, kPrime2, 0, 0 - kPrime1};
  size_t i = 0;
  for (; i + 32 <= size; i += 32) {
    for (int l = 0; l < 4; ++l) lanes[l] = mix_lane(lanes[l], load64(p + i + 8 * l));
  }
  uint64_t h = rotl(lanes[0], 1) + rotl(lanes[1], 7) + rotl(lanes[2], 12) + rotl(lanes[3], 18);
  h += static_cast<uint64_t>(size) * kPrime3;
  for (; i + 8 <= size; i += 8) h = rotl(h ^ mix_lane(0, load64(p + i)), 27) * kPrime1 + kPrime3;
  for (; i < size; ++i) h = rotl(h ^ (p[i] * kPrime3), 11) * kPrime1;
  return avalanche(h);
}

}  // namespace bitlab
