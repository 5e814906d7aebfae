//===- StochasticRounding.h - float32 to bfloat16, unbiased ----*- C++ -*-===//
//
// Rounding x to bfloat16 stochastically: add 16 random bits to its low half
// and truncate. x rounds away from zero with probability (dropped bits) /
// 2^16, so E[round(x)] = x. The bits are a hash of (key, element index), 32
// of them per element: the two halves serve two arrays (AdamW's m and v).
// Scalar, AVX2 and AVX-512 code give the same bits, so the result does not
// depend on which path or thread stored an element.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_BACKEND_CPU_SRC_STOCHASTICROUNDING_H
#define LOCUS_RUNTIME_BACKEND_CPU_SRC_STOCHASTICROUNDING_H

#include "locus/runtime/backend/cpu/Optimizer.h"

#include "backend/cpu/Simd.h"

#include <cstdint>
#include <cstring>

namespace locus::rt::cpu {

/// The key of one parameter's stores at step t.
inline uint32_t roundingKey(uint64_t stream, int64_t t) {
  uint64_t z = stream + 0x9E3779B97F4A7C15ull * static_cast<uint64_t>(t + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull; // splitmix64's finaliser
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return static_cast<uint32_t>(z ^ (z >> 31));
}

/// 32 well-mixed bits for element `index` (a bijection of index ^ key).
inline uint32_t roundingBits(uint32_t key, uint32_t index) {
  uint32_t x = index ^ key;
  x ^= x >> 16;
  x *= 0x7FEB352Du;
  x ^= x >> 15;
  x *= 0x846CA68Bu;
  x ^= x >> 16;
  return x;
}

inline float widen(BFloat16 h) {
  const uint32_t bits = static_cast<uint32_t>(h.bits) << 16;
  float x;
  std::memcpy(&x, &bits, sizeof x);
  return x;
}

/// x to bfloat16 with `random`'s low 16 bits as the rounding bits.
inline BFloat16 roundWith(float x, uint32_t random) {
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  bits += random & 0xFFFFu;
  return BFloat16{static_cast<uint16_t>(bits >> 16)};
}

inline BFloat16 roundStochastic(float x, uint32_t key, uint32_t index) {
  return roundWith(x, roundingBits(key, index));
}

#if defined(LOCUS_HAVE_X86)
LOCUS_AVX2 inline __m256 widen8(const BFloat16 *src) {
  const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i *>(src));
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

/// roundingBits of elements index .. index + 7.
LOCUS_AVX2 inline __m256i roundingBits8(uint32_t key, uint32_t index) {
  __m256i h = _mm256_xor_si256(
      _mm256_add_epi32(_mm256_set1_epi32(static_cast<int32_t>(index)),
                       _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)),
      _mm256_set1_epi32(static_cast<int32_t>(key)));
  h = _mm256_xor_si256(h, _mm256_srli_epi32(h, 16));
  h = _mm256_mullo_epi32(h, _mm256_set1_epi32(0x7FEB352D));
  h = _mm256_xor_si256(h, _mm256_srli_epi32(h, 15));
  h = _mm256_mullo_epi32(h, _mm256_set1_epi32(static_cast<int32_t>(0x846CA68Bu)));
  return _mm256_xor_si256(h, _mm256_srli_epi32(h, 16));
}

/// roundWith on 8 lanes, stored at dst.
LOCUS_AVX2 inline void roundWith8(BFloat16 *dst, __m256 x, __m256i random) {
  const __m256i bits = _mm256_srli_epi32(
      _mm256_add_epi32(_mm256_castps_si256(x),
                       _mm256_and_si256(random, _mm256_set1_epi32(0xFFFF))),
      16);
  // Each lane holds a value below 2^16, so the unsigned saturating pack is exact.
  const __m128i packed =
      _mm_packus_epi32(_mm256_castsi256_si128(bits), _mm256_extracti128_si256(bits, 1));
  _mm_storeu_si128(reinterpret_cast<__m128i *>(dst), packed);
}

/// roundStochastic on elements index .. index + 7, stored at dst.
LOCUS_AVX2 inline void roundStochastic8(BFloat16 *dst, __m256 x, uint32_t key, uint32_t index) {
  roundWith8(dst, x, roundingBits8(key, index));
}

// The AVX-512 helpers use the maskz forms with every lane set: GCC 12 warns of
// the undefined vector the plain forms pass in.
LOCUS_AVX512 inline __m512 widen16(const BFloat16 *src) {
  const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(src));
  return _mm512_castsi512_ps(
      _mm512_maskz_slli_epi32(0xffff, _mm512_maskz_cvtepu16_epi32(0xffff, h), 16));
}

/// roundingBits of elements index .. index + 15 (roundingBits8's lanes, twice).
LOCUS_AVX512 inline __m512i roundingBits16(uint32_t key, uint32_t index) {
  __m512i h = _mm512_xor_si512(
      _mm512_add_epi32(_mm512_set1_epi32(static_cast<int32_t>(index)),
                       _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)),
      _mm512_set1_epi32(static_cast<int32_t>(key)));
  h = _mm512_xor_si512(h, _mm512_maskz_srli_epi32(0xffff, h, 16));
  h = _mm512_mullo_epi32(h, _mm512_set1_epi32(0x7FEB352D));
  h = _mm512_xor_si512(h, _mm512_maskz_srli_epi32(0xffff, h, 15));
  h = _mm512_mullo_epi32(h, _mm512_set1_epi32(static_cast<int32_t>(0x846CA68Bu)));
  return _mm512_xor_si512(h, _mm512_maskz_srli_epi32(0xffff, h, 16));
}

/// roundWith on 16 lanes, stored at dst.
LOCUS_AVX512 inline void roundWith16(BFloat16 *dst, __m512 x, __m512i random) {
  const __m512i sum = _mm512_add_epi32(_mm512_castps_si512(x),
                                       _mm512_and_si512(random, _mm512_set1_epi32(0xFFFF)));
  const __m512i bits = _mm512_maskz_srli_epi32(0xffff, sum, 16);
  // Each lane holds a value below 2^16: truncating it to 16 bits is exact.
  _mm256_storeu_si256(reinterpret_cast<__m256i *>(dst),
                      _mm512_maskz_cvtepi32_epi16(0xffff, bits));
}
#endif

} // namespace locus::rt::cpu

#endif
