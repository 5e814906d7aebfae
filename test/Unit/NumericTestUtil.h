//===- NumericTestUtil.h - helpers of the float64-reference tests -*- C++ -*-===//
#ifndef LOCUS_TEST_UNIT_NUMERICTESTUTIL_H
#define LOCUS_TEST_UNIT_NUMERICTESTUTIL_H

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

namespace locus::test {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
using Vec = std::vector<double>;

/// n floats uniform in [lo, hi), reproducible from `seed`.
inline std::vector<float> randomVector(int64_t n, uint32_t seed, float lo = -1.0f,
                                       float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (float &x : v)
    x = dist(rng);
  return v;
}

inline Vec toDouble(const std::vector<float> &v) { return Vec(v.begin(), v.end()); }

/// max |got - ref| / max |ref|; NaN (or a size mismatch) yields +inf, so NaN
/// never passes.
inline double relError(const std::vector<float> &got, const Vec &ref) {
  if (got.size() != ref.size())
    return std::numeric_limits<double>::infinity();
  double maxRef = 0.0, maxErr = 0.0;
  for (size_t i = 0; i < ref.size(); ++i) {
    if (!std::isfinite(got[i]) || !std::isfinite(ref[i]))
      return std::numeric_limits<double>::infinity();
    maxRef = std::max(maxRef, std::fabs(ref[i]));
    maxErr = std::max(maxErr, std::fabs(got[i] - ref[i]));
  }
  return maxErr / std::max(maxRef, 1e-30);
}

} // namespace locus::test

#endif
