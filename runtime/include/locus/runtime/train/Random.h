//===- Random.h - seeded, platform-independent random numbers -*- C++ -*-===//
//
// The standard distributions differ between library implementations, so runs
// with the same --seed would differ between machines; this generator
// (xoshiro256**) and its derived draws are fully specified here. Independent
// streams (initialisation, augmentation of step t, negatives) come from
// mixSeed, so one stream's draws never shift another's.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_TRAIN_RANDOM_H
#define LOCUS_RUNTIME_TRAIN_RANDOM_H

#include <cstdint>
#include <vector>
#include <utility>

namespace locus::rt::train {

/// Stream identifiers for mixSeed.
enum class Stream : uint64_t {
  Init = 1,
  Augment = 2,
  Shuffle = 3,
  Negatives = 4,
  Synthetic = 5,
  HeldOut = 6,
  Probe = 7,
  Rounding = 8, ///< stochastic rounding of bfloat16 optimizer state
};

/// A well-mixed 64-bit seed for (seed, stream, index).
uint64_t mixSeed(uint64_t seed, Stream stream, uint64_t index = 0);

/// Random in-batch negatives of n rows: for row r a uniformly drawn row that
/// is neither r nor its positive (r + n/2) mod n.
std::vector<int32_t> drawNegatives(int64_t n, uint64_t seed);
/// FF's random draws for n rows of `plane` pixels: each row's partner (an
/// image other than its own) and its mask bits; the generated hybrid
/// negatives kernel blurs the masks and mixes the rows.
void drawHybrid(int64_t n, int64_t plane, uint64_t seed, float *masks, int32_t *partners);

class Rng {
public:
  explicit Rng(uint64_t seed);
  uint64_t next();
  /// Uniform in [0, 1) with 53 random bits.
  double uniform();
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  /// Uniform integer in [0, n), n > 0, without modulo bias.
  int64_t below(int64_t n);

  /// Fisher-Yates shuffle of [first, first + count).
  template <typename T> void shuffle(T *first, int64_t count) {
    for (int64_t i = count - 1; i > 0; --i)
      std::swap(first[i], first[below(i + 1)]);
  }

private:
  uint64_t s_[4];
};

} // namespace locus::rt::train

#endif
