#include "locus/runtime/train/Random.h"

#include <algorithm>

namespace locus::rt::train {

namespace {
uint64_t splitMix(uint64_t &state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
} // namespace

uint64_t mixSeed(uint64_t seed, Stream stream, uint64_t index) {
  uint64_t state = seed;
  uint64_t a = splitMix(state);
  state = a ^ (static_cast<uint64_t>(stream) * 0xd1b54a32d192ed03ULL);
  uint64_t b = splitMix(state);
  state = b ^ (index * 0x8cb92ba72f3d8dd7ULL);
  return splitMix(state);
}

Rng::Rng(uint64_t seed) {
  uint64_t state = seed;
  for (uint64_t &word : s_)
    word = splitMix(state);
}

uint64_t Rng::next() {
  uint64_t result = rotl(s_[1] * 5, 7) * 9;
  uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

double Rng::uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

int64_t Rng::below(int64_t n) {
  // Rejection sampling: draws past the largest multiple of n are redrawn.
  uint64_t range = static_cast<uint64_t>(n);
  uint64_t limit = UINT64_MAX - UINT64_MAX % range;
  uint64_t x;
  do
    x = next();
  while (x >= limit);
  return static_cast<int64_t>(x % range);
}

std::vector<int32_t> drawNegatives(int64_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<int32_t> neg(n);
  for (int64_t r = 0; r < n; ++r) {
    int64_t pos = (r + n / 2) % n;
    int64_t lo = std::min(r, pos), hi = std::max(r, pos);
    int64_t q = rng.below(n - 2); // skip the two excluded rows in order
    if (q >= lo)
      ++q;
    if (q >= hi)
      ++q;
    neg[r] = static_cast<int32_t>(q);
  }
  return neg;
}

void drawHybrid(int64_t n, int64_t plane, uint64_t seed, float *masks, int32_t *partners) {
  // The draws in the order of the data stream: each row's partner (rows r
  // and r + n/2 are views of one image), then its mask's bits.
  const int64_t images = n / 2;
  Rng rng(seed);
  for (int64_t r = 0; r < n; ++r) {
    int64_t q = r;
    while (q % images == r % images)
      q = rng.below(n);
    partners[r] = static_cast<int32_t>(q);
    for (int64_t p = 0; p < plane; ++p)
      masks[r * plane + p] = static_cast<float>(rng.next() & 1);
  }
}

} // namespace locus::rt::train
