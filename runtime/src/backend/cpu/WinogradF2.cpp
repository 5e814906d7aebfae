//===- WinogradF2.cpp - the transforms of Winograd F(2x2, 3x3) ------------===//
//
// 2x2 output tiles from 4x4 input patches:
//   Y = A^T [ (G g G^T) .* (B^T d B) ] A,  16 positions,
// 16 multiplications per tile and channel pair instead of 36 (2.25x fewer).
// F(2x2, 3x3) keeps float32 rounding close to the direct convolution; its
// transforms are adds only, so it also serves maps too small for 4x4 tiles.
// The weight gradient's: P = A dY A^T per tile, dW = G^T dU G.
//
//===----------------------------------------------------------------------===//
#include "backend/cpu/Parallel.h"
#include "backend/cpu/Simd.h"
#include "backend/cpu/WinogradTransforms.h"

#include <algorithm>
#include <vector>

namespace locus::rt::cpu {

namespace {

/// The end of the run of tiles from i on that share a sample and a tile row.
int64_t runEnd(const std::vector<TilePlace> &places, int64_t i, int64_t count) {
  int64_t end = i + 1;
  while (end < count && places[end].n == places[i].n && places[end].y0 == places[i].y0)
    ++end;
  return end;
}

/// Copies map rows top .. top + count - 1 into `count` rows of `width`
/// floats in buffer (grown as needed), zero outside the map: column j of a
/// padded row is map column j - lead (1 for the inputs' padding, 0 for
/// gradients).
void padRows(const float *map, int64_t h, int64_t w, int64_t top, int count, int64_t lead,
             std::vector<float> &buffer, int64_t width, const float **rows) {
  if (static_cast<int64_t>(buffer.size()) < count * width)
    buffer.resize(static_cast<size_t>(count * width));
  for (int a = 0; a < count; ++a) {
    float *dst = buffer.data() + a * width;
    const int64_t yy = top + a;
    if (yy >= 0 && yy < h) { // zero only the padding around the copied row
      std::fill(dst, dst + lead, 0.0f);
      std::copy(map + yy * w, map + (yy + 1) * w, dst + lead);
      std::fill(dst + w + lead, dst + width, 0.0f);
    } else {
      std::fill(dst, dst + width, 0.0f);
    }
    rows[a] = dst;
  }
}

/// Input rows y0-1 .. y0+2 of one tile row, zero-padded: column j of a
/// padded row is input column j - 1, so tile bx's patch starts at column 2 bx.
struct PaddedRows {
  const float *row[4];
};

/// V of one tile whose patch starts at padded column col; dst points at
/// position 0 of its column in V.
inline void inputTile(const PaddedRows &r, int64_t col, float *dst, int64_t stride) {
  float d[4][4];
  for (int a = 0; a < 4; ++a)
    for (int b = 0; b < 4; ++b)
      d[a][b] = r.row[a][col + b];
  float t4[4][4]; // B^T d
  for (int b = 0; b < 4; ++b) {
    t4[0][b] = d[0][b] - d[2][b];
    t4[1][b] = d[1][b] + d[2][b];
    t4[2][b] = d[2][b] - d[1][b];
    t4[3][b] = d[1][b] - d[3][b];
  }
  for (int a = 0; a < 4; ++a) { // (B^T d) B
    float *row = dst + (4 * a) * stride;
    row[0] = t4[a][0] - t4[a][2];
    row[stride] = t4[a][1] + t4[a][2];
    row[2 * stride] = t4[a][2] - t4[a][1];
    row[3 * stride] = t4[a][1] - t4[a][3];
  }
}

#if defined(LOCUS_HAVE_X86)
/// inputTile for up to 8 horizontally adjacent tiles (patches at col,
/// col + 2, ...); lanes past `lanes` are computed from the padding and
/// stored only with `spill` (storeLanes).
LOCUS_AVX2 void inputTiles8(const PaddedRows &r, int64_t col, float *dst, int64_t stride,
                            int64_t lanes, bool spill) {
  __m256 d[4][4];
  for (int a = 0; a < 4; ++a) {
    deinterleave(r.row[a] + col, d[a][0], d[a][1]);
    deinterleave(r.row[a] + col + 2, d[a][2], d[a][3]);
  }
  __m256 t4[4][4];
  for (int b = 0; b < 4; ++b) {
    t4[0][b] = _mm256_sub_ps(d[0][b], d[2][b]);
    t4[1][b] = _mm256_add_ps(d[1][b], d[2][b]);
    t4[2][b] = _mm256_sub_ps(d[2][b], d[1][b]);
    t4[3][b] = _mm256_sub_ps(d[1][b], d[3][b]);
  }
  for (int a = 0; a < 4; ++a) {
    float *row = dst + (4 * a) * stride;
    storeLanes(row, _mm256_sub_ps(t4[a][0], t4[a][2]), lanes, spill);
    storeLanes(row + stride, _mm256_add_ps(t4[a][1], t4[a][2]), lanes, spill);
    storeLanes(row + 2 * stride, _mm256_sub_ps(t4[a][2], t4[a][1]), lanes, spill);
    storeLanes(row + 3 * stride, _mm256_sub_ps(t4[a][1], t4[a][3]), lanes, spill);
  }
}
#endif

/// V[xi][c][i] = (B^T d B)[xi] of tile first + i, input channel c. Tiles go
/// by runs along a tile row, 8 at a time where the CPU has AVX2 (the last
/// group of a run masked).
void transformInputs(const float *x, Shape4 xs, const std::vector<TilePlace> &places,
                     TileChunk chunk, bool vector, float *v) {
  const int64_t channels = xs.c, h = xs.h, w = xs.w, plane = h * w;
  const int64_t stride = WinogradPlan::positionStride(channels, chunk.count);
  const int64_t width = w + 20; // a vector group reads 18 columns
  parallelFor(channels, channels * chunk.count >= 4096, [&](int64_t c) {
    thread_local std::vector<float> buffer;
    float *dst = v + c * chunk.count;
    for (int64_t i = 0; i < chunk.count;) {
      const TilePlace &first = places[i];
      const int64_t end = runEnd(places, i, chunk.count);
      PaddedRows r;
      padRows(x + (first.n * channels + c) * plane, h, w, first.y0 - 1, 4, /*lead=*/1,
              buffer, width, r.row);
      const int64_t run = end - i, col0 = first.x0;
      int64_t k = 0;
#if defined(LOCUS_HAVE_X86)
      if (vector)
        for (; k < run; k += 8)
          inputTiles8(r, col0 + 2 * k, dst + i + k, stride, std::min<int64_t>(8, run - k),
                      /*spill=*/i + k + 8 <= chunk.count);
#endif
      for (; k < run; ++k)
        inputTile(r, col0 + 2 * k, dst + i + k, stride);
      i = end;
    }
  });
}

/// U[xi][o][c] = (G g G^T)[xi] for outputs [o0, o0 + count).
/// (Scalar: so far only the 4x4 tiles' weight transforms have AVX2 code.)
void transformWeights(const float *w, int64_t channels, int64_t o0, int64_t count,
                      bool /*vector*/, float *u) {
  const int64_t stride = WinogradPlan::positionStride(count, channels);
  parallelFor(count, count * channels >= 4096, [&](int64_t o) {
    for (int64_t c = 0; c < channels; ++c) {
      const float *g = w + ((o0 + o) * channels + c) * 9;
      float t[4][3]; // G g
      for (int b = 0; b < 3; ++b) {
        t[0][b] = g[b];
        t[1][b] = 0.5f * (g[b] + g[3 + b] + g[6 + b]);
        t[2][b] = 0.5f * (g[b] - g[3 + b] + g[6 + b]);
        t[3][b] = g[6 + b];
      }
      float *dst = u + o * channels + c;
      for (int a = 0; a < 4; ++a) { // (G g) G^T
        float *row = dst + (4 * a) * stride;
        row[0] = t[a][0];
        row[stride] = 0.5f * (t[a][0] + t[a][1] + t[a][2]);
        row[2 * stride] = 0.5f * (t[a][0] - t[a][1] + t[a][2]);
        row[3 * stride] = t[a][2];
      }
    }
  });
}

/// The output rows y0 and y0 + 1 of one tile (A^T M A + b, 2x2) from the 16
/// products m[xi * stride].
inline void outputTile(float *m, int64_t stride, float b, float out[2][2]) {
  float t[2][4]; // A^T M
  for (int b4 = 0; b4 < 4; ++b4) {
    const float m0 = m[b4 * stride], m1 = m[(4 + b4) * stride];
    const float m2 = m[(8 + b4) * stride], m3 = m[(12 + b4) * stride];
    for (int a = 0; a < 4; ++a)
      m[(4 * a + b4) * stride] = 0.0f;
    t[0][b4] = m0 + m1 + m2;
    t[1][b4] = m1 - m2 - m3;
  }
  for (int a = 0; a < 2; ++a) { // (A^T M) A
    out[a][0] = t[a][0] + t[a][1] + t[a][2] + b;
    out[a][1] = t[a][1] - t[a][2] - t[a][3] + b;
  }
}

#if defined(LOCUS_HAVE_X86)
/// outputTile for `lanes` (1..8) adjacent tiles: rows[a] receives their 2 *
/// lanes output columns of row y0 + a, in order.
LOCUS_AVX2 void outputTiles8(float *m, int64_t stride, float b, int64_t lanes,
                             float rows[2][16]) {
  __m256 t[2][4];
  const __m256 zero = _mm256_setzero_ps();
  for (int b4 = 0; b4 < 4; ++b4) {
    // Lanes past `lanes` read the next row or the position's skew (still
    // scratch) and are never stored; the products read are left zero.
    const __m256 m0 = _mm256_loadu_ps(m + b4 * stride);
    const __m256 m1 = _mm256_loadu_ps(m + (4 + b4) * stride);
    const __m256 m2 = _mm256_loadu_ps(m + (8 + b4) * stride);
    const __m256 m3 = _mm256_loadu_ps(m + (12 + b4) * stride);
    for (int a = 0; a < 4; ++a)
      storeLanes(m + (4 * a + b4) * stride, zero, lanes, /*spill=*/false);
    t[0][b4] = _mm256_add_ps(_mm256_add_ps(m0, m1), m2);
    t[1][b4] = _mm256_sub_ps(_mm256_sub_ps(m1, m2), m3);
  }
  const __m256 bias = _mm256_set1_ps(b);
  for (int a = 0; a < 2; ++a) {
    const __m256 left =
        _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(t[a][0], t[a][1]), t[a][2]), bias);
    const __m256 right =
        _mm256_add_ps(_mm256_sub_ps(_mm256_sub_ps(t[a][1], t[a][2]), t[a][3]), bias);
    // Interleave: left0 right0 left1 right1 ...
    const __m256 lo = _mm256_unpacklo_ps(left, right), hi = _mm256_unpackhi_ps(left, right);
    _mm256_storeu_ps(rows[a], _mm256_permute2f128_ps(lo, hi, 0x20));
    _mm256_storeu_ps(rows[a] + 8, _mm256_permute2f128_ps(lo, hi, 0x31));
  }
}
#endif

/// y[n][o0 + o] tiles = A^T M A (+ bias), cropped to the map; by runs along
/// a tile row, 8 tiles at a time where the CPU has AVX2.
void transformOutputs(float *m, const std::vector<TilePlace> &places, TileChunk chunk,
                      int64_t o0, int64_t count, const float *bias, bool vector, float *y,
                      Shape4 ys) {
  const int64_t h = ys.h, w = ys.w, plane = h * w;
  const int64_t stride = WinogradPlan::positionStride(count, chunk.count);
  parallelFor(count, count * chunk.count >= 4096, [&](int64_t o) {
    const float b = bias ? bias[o0 + o] : 0.0f;
    float *src = m + o * chunk.count;
    for (int64_t i = 0; i < chunk.count;) {
      const TilePlace &first = places[i];
      const int64_t end = runEnd(places, i, chunk.count);
      float *map = y + (first.n * ys.c + o0 + o) * plane;
      const int64_t rowsHere = std::min<int64_t>(2, h - first.y0);
      for (int64_t k = i; k < end;) {
        const int64_t lanes = vector ? std::min<int64_t>(8, end - k) : 1;
        float rows[2][16];
#if defined(LOCUS_HAVE_X86)
        if (vector)
          outputTiles8(src + k, stride, b, lanes, rows);
#endif
        if (!vector) {
          float tile[2][2];
          outputTile(src + k, stride, b, tile);
          for (int a = 0; a < 2; ++a)
            rows[a][0] = tile[a][0], rows[a][1] = tile[a][1];
        }
        const int64_t x0 = places[k].x0;
        const int64_t cols = std::min<int64_t>(2 * lanes, w - x0); // the last column may be cropped
        for (int64_t a = 0; a < rowsHere; ++a)
          std::copy(rows[a], rows[a] + cols, map + (first.y0 + a) * w + x0);
        k += lanes;
      }
      i = end;
    }
  });
}

/// The 16 positions of P = A dY A^T for one tile's 2x2 gradient g.
inline void outputGradTile(const float g[2][2], float *dst, int64_t stride) {
  float s[4][2]; // A dY
  for (int b = 0; b < 2; ++b) {
    s[0][b] = g[0][b];
    s[1][b] = g[0][b] + g[1][b];
    s[2][b] = g[0][b] - g[1][b];
    s[3][b] = -g[1][b];
  }
  for (int a = 0; a < 4; ++a) { // (A dY) A^T
    float *row = dst + (4 * a) * stride;
    row[0] = s[a][0];
    row[stride] = s[a][0] + s[a][1];
    row[2 * stride] = s[a][0] - s[a][1];
    row[3 * stride] = -s[a][1];
  }
}

#if defined(LOCUS_HAVE_X86)
/// outputGradTile for `lanes` adjacent tiles whose gradient rows (zero past
/// the map) start at r0 and r1.
LOCUS_AVX2 void outputGradTiles8(const float *r0, const float *r1, float *dst, int64_t stride,
                                 int64_t lanes, bool spill) {
  __m256 g[2][2];
  deinterleave(r0, g[0][0], g[0][1]);
  deinterleave(r1, g[1][0], g[1][1]);
  __m256 s[4][2];
  const __m256 zero = _mm256_setzero_ps();
  for (int b = 0; b < 2; ++b) {
    s[0][b] = g[0][b];
    s[1][b] = _mm256_add_ps(g[0][b], g[1][b]);
    s[2][b] = _mm256_sub_ps(g[0][b], g[1][b]);
    s[3][b] = _mm256_sub_ps(zero, g[1][b]);
  }
  for (int a = 0; a < 4; ++a) {
    float *row = dst + (4 * a) * stride;
    storeLanes(row, s[a][0], lanes, spill);
    storeLanes(row + stride, _mm256_add_ps(s[a][0], s[a][1]), lanes, spill);
    storeLanes(row + 2 * stride, _mm256_sub_ps(s[a][0], s[a][1]), lanes, spill);
    storeLanes(row + 3 * stride, _mm256_sub_ps(zero, s[a][1]), lanes, spill);
  }
}
#endif

/// P[xi][o][i] = (A dY A^T)[xi] of tile first + i, outputs [o0, o0 + count);
/// positions past the map carry no gradient. By runs along a tile row: the
/// run's two gradient rows are copied into zero-padded buffers, then read 8
/// tiles at a time where the CPU has AVX2.
void transformOutputGrads(const float *dy, Shape4 ys, const std::vector<TilePlace> &places,
                          TileChunk chunk, int64_t o0, int64_t count, bool vector,
                          float *pOut) {
  const int64_t h = ys.h, w = ys.w, plane = h * w;
  const int64_t stride = WinogradPlan::positionStride(count, chunk.count);
  const int64_t width = w + 20; // a vector group reads 16 columns past its first
  parallelFor(count, count * chunk.count >= 4096, [&](int64_t o) {
    thread_local std::vector<float> buffer;
    float *dst = pOut + o * chunk.count;
    for (int64_t i = 0; i < chunk.count;) {
      const TilePlace &first = places[i];
      const int64_t end = runEnd(places, i, chunk.count);
      const float *rows[2];
      padRows(dy + (first.n * ys.c + o0 + o) * plane, h, w, first.y0, 2, /*lead=*/0,
              buffer, width, rows);
      const float *r0 = rows[0], *r1 = rows[1];
      for (int64_t k = i; k < end;) {
        const int64_t x0 = places[k].x0;
#if defined(LOCUS_HAVE_X86)
        if (vector) {
          const int64_t lanes = std::min<int64_t>(8, end - k);
          outputGradTiles8(r0 + x0, r1 + x0, dst + k, stride, lanes,
                           /*spill=*/k + 8 <= chunk.count);
          k += lanes;
          continue;
        }
#endif
        const float g[2][2] = {{r0[x0], r0[x0 + 1]}, {r1[x0], r1[x0 + 1]}};
        outputGradTile(g, dst + k, stride);
        ++k;
      }
      i = end;
    }
  });
}

/// dw[o0 + o][c] = G^T dU G, or += when accumulating over tile chunks.
void transformWeightGrads(const float *du, int64_t channels, int64_t o0, int64_t count,
                          bool accumulate, bool /*vector*/, float *dw) {
  const int64_t stride = WinogradPlan::positionStride(count, channels);
  parallelFor(count, count * channels >= 4096, [&](int64_t o) {
    for (int64_t c = 0; c < channels; ++c) {
      const float *src = du + o * channels + c;
      float s[3][4]; // G^T dU
      for (int b = 0; b < 4; ++b) {
        const float u0 = src[b * stride], u1 = src[(4 + b) * stride];
        const float u2 = src[(8 + b) * stride], u3 = src[(12 + b) * stride];
        s[0][b] = u0 + 0.5f * (u1 + u2);
        s[1][b] = 0.5f * (u1 - u2);
        s[2][b] = 0.5f * (u1 + u2) + u3;
      }
      float r[9];
      for (int a = 0; a < 3; ++a) { // (G^T dU) G
        r[3 * a] = s[a][0] + 0.5f * (s[a][1] + s[a][2]);
        r[3 * a + 1] = 0.5f * (s[a][1] - s[a][2]);
        r[3 * a + 2] = 0.5f * (s[a][1] + s[a][2]) + s[a][3];
      }
      float *g = dw + ((o0 + o) * channels + c) * 9;
      for (int e = 0; e < 9; ++e)
        g[e] = accumulate ? g[e] + r[e] : r[e];
    }
  });
}

} // namespace

const WinogradTransforms &winogradF2Transforms() {
  static const WinogradTransforms t{transformInputs, transformWeights, transformOutputs,
                                    transformOutputGrads, transformWeightGrads};
  return t;
}

} // namespace locus::rt::cpu
