// Seeds derived from a run's seed and a few keys (a stream tag, the epoch, a sample index), and
// SplitMix64, the small generator that draws from them.
//
// Why: the loader's per-epoch order and each sample's augmentation must not depend on the
// global RNG, on which thread loads a sample, or on what ran before in the process, so that a
// resumed run and any number of loader workers see identical batches. Every random choice
// therefore comes from its own seed, a pure function of (seed, keys). SplitMix64 (Steele, Lea
// and Flood 2014) is fully specified, so the draws are the same on every platform, unlike the
// standard library's distributions.
//
// Example:
//   bitlab::trainer::SplitMix64 rng(
//       bitlab::trainer::derive_seed(seed, {bitlab::trainer::kAugmentStream, epoch, index}));
//   bool flip = rng.below(2) == 1;
#ifndef BITLAB_TRAINER_DATA_SEEDS_H_
#define BITLAB_TRAINER_DATA_SEEDS_H_

#include <cstdint>
#include <initializer_list>

namespace bitlab {
namespace trainer {

/// Stream tags: the first key of derive_seed, so the permutation, the augmentation and the
/// synthetic data never share a seed.
inline constexpr uint64_t kPermutationStream = 1;
inline constexpr uint64_t kAugmentStream = 2;
inline constexpr uint64_t kSyntheticStream = 3;

/// SplitMix64's output function: a bijective mix of all 64 bits.
inline uint64_t splitmix64_mix(uint64_t x) {
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

/// A seed that depends on `seed` and every key, in order.
inline uint64_t derive_seed(uint64_t seed, std::initializer_list<uint64_t> keys) {
  uint64_t hash = splitmix64_mix(seed + 0x9e3779b97f4a7c15ULL);
  for (uint64_t key : keys)
    hash = splitmix64_mix(hash ^ splitmix64_mix(key + 0x9e3779b97f4a7c15ULL));
  return hash;
}

/// The SplitMix64 generator.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}

  uint64_t next() {
    state_ += 0x9e3779b97f4a7c15ULL;
    return splitmix64_mix(state_);
  }

  /// A draw in [0, n), n >= 1. The modulo bias is below n / 2^64: nothing for the small n used.
  uint64_t below(uint64_t n) { return next() % n; }

 private:
  uint64_t state_;
};

}  // namespace trainer
}  // namespace bitlab

#endif  // BITLAB_TRAINER_DATA_SEEDS_H_
