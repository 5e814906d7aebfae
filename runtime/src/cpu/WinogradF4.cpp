//===- WinogradF4.cpp - the transforms of Winograd F(4x4, 3x3) ------------===//
//
// 4x4 output tiles from 6x6 input patches, with Lavin and Gray's points
// 0, 1, -1, 2, -2 and infinity:
//   Y = A^T [ (G g G^T) .* (B^T d B) ] A,  36 positions,
// 36 multiplications per tile and channel pair where the direct convolution
// takes 144 (4x fewer; F(2x2, 3x3) saves 2.25x). The price is larger
// transforms and their factors (4, 5, 8, 1/6, 1/24), which round a little more:
// the unit tests hold both tile sizes to the same 1e-4 against float64.
//
// Each transform is one 1-D map (B^T, G, A^T and, for the weight gradient,
// A and G^T), applied along the rows of a tile and then along its columns.
// The maps are written once for a float and for an AVX2 register holding 8
// horizontally adjacent tiles; deinterleave4 and interleave4 (Simd.h) move
// those tiles' columns in and out of the lanes.
//
//===----------------------------------------------------------------------===//
#include "cpu/Parallel.h"
#include "cpu/Simd.h"
#include "cpu/WinogradTileWalk.h"
#include "cpu/WinogradTransforms.h"

#include <algorithm>
#include <vector>

// The 1-D maps must inline into the AVX2 kernels to get their instructions.
#define LOCUS_ALWAYS_INLINE inline __attribute__((always_inline))

namespace locus::rt::cpu {

namespace {

constexpr int kAlpha = 6; // the transformed tile's side
constexpr int kTile = 4;  // the output tile's side

/// B^T: the input transform along one axis, 6 -> 6.
struct InputAxis {
  template <class V> static LOCUS_ALWAYS_INLINE void apply(const V (&d)[6], V (&o)[6]) {
    const V s12 = d[1] + d[2], s34 = d[3] + d[4];
    const V d12 = d[1] - d[2], d43 = d[4] - d[3];
    const V d42 = d[4] - d[2], d31 = d[3] - d[1];
    o[0] = 4.0f * d[0] - 5.0f * d[2] + d[4];
    o[1] = s34 - 4.0f * s12;
    o[2] = d43 + 4.0f * d12;
    o[3] = d42 + 2.0f * d31;
    o[4] = d42 - 2.0f * d31;
    o[5] = 4.0f * d[1] - 5.0f * d[3] + d[5];
  }
};

/// G: the weight transform along one axis, 3 -> 6.
struct WeightAxis {
  template <class V> static LOCUS_ALWAYS_INLINE void apply(const V (&g)[3], V (&u)[6]) {
    const V outer = g[0] + g[2];
    const V wide = (1.0f / 24) * g[0] + (1.0f / 6) * g[2];
    u[0] = 0.25f * g[0];
    u[1] = (-1.0f / 6) * (outer + g[1]);
    u[2] = (-1.0f / 6) * (outer - g[1]);
    u[3] = wide + (1.0f / 12) * g[1];
    u[4] = wide - (1.0f / 12) * g[1];
    u[5] = g[2];
  }
};

/// A^T: the output transform along one axis, 6 -> 4.
struct OutputAxis {
  template <class V> static LOCUS_ALWAYS_INLINE void apply(const V (&m)[6], V (&y)[4]) {
    const V s12 = m[1] + m[2], d12 = m[1] - m[2];
    const V s34 = m[3] + m[4], d34 = m[3] - m[4];
    y[0] = m[0] + s12 + s34;
    y[1] = d12 + 2.0f * d34;
    y[2] = s12 + 4.0f * s34;
    y[3] = d12 + 8.0f * d34 + m[5];
  }
};

/// A: the adjoint of outputAxis, 4 -> 6 (the output gradient's transform).
struct OutputGradAxis {
  template <class V> static LOCUS_ALWAYS_INLINE void apply(const V (&g)[4], V (&p)[6]) {
    const V even1 = g[0] + g[2], odd1 = g[1] + g[3];
    const V even2 = g[0] + 4.0f * g[2], odd2 = 2.0f * g[1] + 8.0f * g[3];
    p[0] = g[0];
    p[1] = even1 + odd1;
    p[2] = even1 - odd1;
    p[3] = even2 + odd2;
    p[4] = even2 - odd2;
    p[5] = g[3];
  }
};

/// G^T: the adjoint of weightAxis, 6 -> 3 (the weight gradient's transform).
struct WeightGradAxis {
  template <class V> static LOCUS_ALWAYS_INLINE void apply(const V (&u)[6], V (&r)[3]) {
    const V s12 = u[1] + u[2], s34 = u[3] + u[4];
    r[0] = 0.25f * u[0] - (1.0f / 6) * s12 + (1.0f / 24) * s34;
    r[1] = (1.0f / 6) * (u[2] - u[1]) + (1.0f / 12) * (u[3] - u[4]);
    r[2] = (1.0f / 6) * (s34 - s12) + u[5];
  }
};

/// Map (an axis struct above) applied along the rows of an R x C tile, then
/// along the columns of the result: an R2 x C2 tile.
template <class Map, int R, int C, int R2, int C2, class V>
LOCUS_ALWAYS_INLINE void apply2d(const V (&in)[R][C], V (&out)[R2][C2]) {
  V h[R][C2];
  for (int r = 0; r < R; ++r)
    Map::apply(in[r], h[r]);
  for (int c = 0; c < C2; ++c) {
    V column[R], result[R2];
    for (int r = 0; r < R; ++r)
      column[r] = h[r][c];
    Map::apply(column, result);
    for (int r = 0; r < R2; ++r)
      out[r][c] = result[r];
  }
}

// The 2-D transforms, for either lane type.
template <class V> LOCUS_ALWAYS_INLINE void inputTile(const V (&d)[6][6], V (&v)[6][6]) {
  apply2d<InputAxis>(d, v);
}
template <class V> LOCUS_ALWAYS_INLINE void outputTile(const V (&m)[6][6], V (&y)[4][4]) {
  apply2d<OutputAxis>(m, y);
}
template <class V> LOCUS_ALWAYS_INLINE void outputGradTile(const V (&g)[4][4], V (&p)[6][6]) {
  apply2d<OutputGradAxis>(g, p);
}

/// The 8-tile kernels put one tile in each AVX2 lane wherever it lies (a
/// 14 x 14 map has rows of only 3.5 tiles); only the chunk's last group has
/// fewer lanes, and storeLanes keeps the rest out of scratch.
#if defined(LOCUS_HAVE_X86)
LOCUS_AVX2 void inputTiles8(const float *const patch[8], int64_t rowStride, float *dst,
                            int64_t stride, int64_t lanes, bool spill) {
  __m256 d[6][6];
  for (int r = 0; r < kAlpha; ++r) {
    const float *left[8], *right[8];
    for (int k = 0; k < 8; ++k) {
      left[k] = patch[k] + r * rowStride;
      right[k] = left[k] + kTile;
    }
    __m256 high[4];
    gather4x8(left, d[r]); // patch columns 0-3
    gather4x8(right, high); // 4-5 (6-7 unused)
    d[r][4] = high[0];
    d[r][5] = high[1];
  }
  __m256 v[6][6];
  inputTile(d, v);
  for (int a = 0; a < kAlpha; ++a)
    for (int b = 0; b < kAlpha; ++b)
      storeLanes(dst + (kAlpha * a + b) * stride, v[a][b], lanes, spill);
}
#endif

void inputTile1(const float *patch, int64_t rowStride, float *dst, int64_t stride) {
  float d[6][6], v[6][6];
  for (int r = 0; r < kAlpha; ++r)
    for (int c = 0; c < kAlpha; ++c)
      d[r][c] = patch[r * rowStride + c];
  inputTile(d, v);
  for (int a = 0; a < kAlpha; ++a)
    for (int b = 0; b < kAlpha; ++b)
      dst[(kAlpha * a + b) * stride] = v[a][b];
}

int64_t tilesAcross(int64_t side) { return (side + kTile - 1) / kTile; }

void transformInputs(const float *x, Shape4 xs, const std::vector<TilePlace> &places,
                     TileChunk chunk, bool vector, float *v) {
  const int64_t stride = WinogradPlan::positionStride(xs.c, chunk.count);
  const int64_t rows = kTile * tilesAcross(xs.h) + 2, cols = kTile * tilesAcross(xs.w) + 2;
  const int64_t n0 = places.front().n, n1 = places[chunk.count - 1].n;
#if defined(LOCUS_HAVE_X86)
  const TileKernel8 tiles8 = vector ? inputTiles8 : nullptr;
#else
  const TileKernel8 tiles8 = nullptr;
#endif
  parallelFor(xs.c, xs.c * chunk.count >= 4096, [&](int64_t c) {
    thread_local std::vector<float> buffer;
    // Tile (y0, x0)'s patch starts at map row y0 - 1, column x0 - 1: padded (y0, x0).
    const PaddedMaps maps(x, xs, c, n0, n1, /*lead=*/1, rows, cols, buffer);
    transformTiles(maps, places, chunk, tiles8, inputTile1, v + c * chunk.count, stride);
  });
}

#if defined(LOCUS_HAVE_X86)
/// G g G^T of the filters of input channels c .. c + 7 (72 floats from g,
/// 9 taps each, into lanes by a stride-9 gather) to U's 36 positions.
LOCUS_AVX2 void weightTiles8(const float *g, float *dst, int64_t stride) {
  const __m256i filters = _mm256_setr_epi32(0, 9, 18, 27, 36, 45, 54, 63);
  __m256 in[3][3];
  for (int a = 0; a < 3; ++a)
    for (int b = 0; b < 3; ++b)
      in[a][b] = _mm256_i32gather_ps(g + 3 * a + b, filters, 4);
  __m256 t[6][6];
  apply2d<WeightAxis>(in, t);
  for (int a = 0; a < kAlpha; ++a)
    for (int b = 0; b < kAlpha; ++b)
      _mm256_storeu_ps(dst + (kAlpha * a + b) * stride, t[a][b]);
}
#endif

void weightTile1(const float *g, float *dst, int64_t stride) {
  const float g3[3][3] = {{g[0], g[1], g[2]}, {g[3], g[4], g[5]}, {g[6], g[7], g[8]}};
  float t[6][6];
  apply2d<WeightAxis>(g3, t);
  for (int a = 0; a < kAlpha; ++a)
    for (int b = 0; b < kAlpha; ++b)
      dst[(kAlpha * a + b) * stride] = t[a][b];
}

void transformWeights(const float *w, int64_t channels, int64_t o0, int64_t count, bool vector,
                      float *u) {
  const int64_t stride = WinogradPlan::positionStride(count, channels);
  parallelFor(count, count * channels >= 4096, [&](int64_t o) {
    const float *g = w + (o0 + o) * channels * 9;
    float *dst = u + o * channels;
    int64_t c = 0;
#if defined(LOCUS_HAVE_X86)
    if (vector)
      for (; c + 8 <= channels; c += 8)
        weightTiles8(g + c * 9, dst + c, stride);
#endif
    for (; c < channels; ++c)
      weightTile1(g + c * 9, dst + c, stride);
  });
}

#if defined(LOCUS_HAVE_X86)
/// A^T M A + b of `lanes` tiles (products m[xi * stride], lanes past them
/// reading the next row or the position's skew, still scratch) into their 4
/// output rows: out[a][k] is row a of tile k, 4 floats. The products read
/// are left zero.
LOCUS_AVX2 void outputTiles8(float *m, int64_t stride, float b, int64_t lanes,
                             float *const out[4][8]) {
  __m256 in[6][6];
  const __m256 zero = _mm256_setzero_ps();
  for (int a = 0; a < kAlpha; ++a)
    for (int c = 0; c < kAlpha; ++c) {
      float *at = m + (kAlpha * a + c) * stride;
      in[a][c] = _mm256_loadu_ps(at);
      storeLanes(at, zero, lanes, /*spill=*/false);
    }
  __m256 y[4][4];
  outputTile(in, y);
  const __m256 bias = _mm256_set1_ps(b);
  for (int a = 0; a < kTile; ++a) {
    for (int c = 0; c < kTile; ++c)
      y[a][c] = _mm256_add_ps(y[a][c], bias);
    scatter4x8(y[a], out[a]);
  }
}
#endif

void outputTile1(float *m, int64_t stride, float b, float *const out[4]) {
  float in[6][6], y[4][4];
  for (int a = 0; a < kAlpha; ++a)
    for (int c = 0; c < kAlpha; ++c) {
      in[a][c] = m[(kAlpha * a + c) * stride];
      m[(kAlpha * a + c) * stride] = 0.0f;
    }
  outputTile(in, y);
  for (int a = 0; a < kTile; ++a)
    for (int c = 0; c < kTile; ++c)
      out[a][c] = y[a][c] + b;
}

/// Where a tile's output goes, worked out once per chunk: its top-left in
/// output channel o0 (channel o adds o planes), its rows inside the map, and
/// whether all 4 columns are.
struct TileOutput {
  int64_t offset;
  int rows;
  bool wholeRows;
};

void transformOutputs(float *m, const std::vector<TilePlace> &places, TileChunk chunk,
                      int64_t o0, int64_t count, const float *bias, bool vector, float *y,
                      Shape4 ys) {
  const int64_t h = ys.h, w = ys.w, plane = h * w;
  const int64_t stride = WinogradPlan::positionStride(count, chunk.count);
  std::vector<TileOutput> outs(static_cast<size_t>(chunk.count));
  for (int64_t i = 0; i < chunk.count; ++i) {
    const TilePlace &t = places[i];
    outs[i] = {(t.n * ys.c + o0) * plane + t.y0 * w + t.x0,
               static_cast<int>(std::min<int64_t>(kTile, h - t.y0)), t.x0 + kTile <= w};
  }
  parallelFor(count, count * chunk.count >= 4096, [&](int64_t o) {
    const float b = bias ? bias[o0 + o] : 0.0f;
    float *src = m + o * chunk.count;
    float *yo = y + o * plane;
    // Rows of tiles that fit go straight to y; cropped ones (and lanes past
    // the chunk) go to spare rows, whose map part is then copied.
    float spare[8][4][4];
    auto setDestinations = [&](int64_t i, int k, float **out, int64_t step) {
      const TileOutput &t = outs[i];
      for (int a = 0; a < kTile; ++a)
        out[a * step] = t.wholeRows && a < t.rows ? yo + t.offset + a * w : spare[k][a];
    };
    auto copyCropped = [&](int64_t i, int k) {
      const TileOutput &t = outs[i];
      if (t.wholeRows)
        return; // whole rows were stored in place; rows past the map are dropped
      const int64_t cols = w - places[i].x0;
      for (int a = 0; a < t.rows; ++a)
        std::copy(spare[k][a], spare[k][a] + cols, yo + t.offset + a * w);
    };
    int64_t i = 0;
#if defined(LOCUS_HAVE_X86)
    if (vector)
      for (; i < chunk.count; i += 8) {
        const int64_t lanes = std::min<int64_t>(8, chunk.count - i);
        float *out[4][8];
        for (int k = 0; k < 8; ++k) {
          if (k < lanes) {
            setDestinations(i + k, k, &out[0][k], 8);
          } else {
            for (int a = 0; a < kTile; ++a)
              out[a][k] = spare[k][a];
          }
        }
        outputTiles8(src + i, stride, b, lanes, out);
        for (int k = 0; k < lanes; ++k)
          copyCropped(i + k, k);
      }
#endif
    for (; i < chunk.count; ++i) {
      float *out[4];
      setDestinations(i, 0, out, 1);
      outputTile1(src + i, stride, b, out);
      copyCropped(i, 0);
    }
  });
}

#if defined(LOCUS_HAVE_X86)
/// P = A dY A^T of 8 tiles whose 4x4 gradients start at grad[k], rows
/// rowStride apart.
LOCUS_AVX2 void outputGradTiles8(const float *const grad[8], int64_t rowStride, float *dst,
                                 int64_t stride, int64_t lanes, bool spill) {
  __m256 g[4][4];
  for (int r = 0; r < kTile; ++r) {
    const float *row[8];
    for (int k = 0; k < 8; ++k)
      row[k] = grad[k] + r * rowStride;
    gather4x8(row, g[r]);
  }
  __m256 p[6][6];
  outputGradTile(g, p);
  for (int a = 0; a < kAlpha; ++a)
    for (int b = 0; b < kAlpha; ++b)
      storeLanes(dst + (kAlpha * a + b) * stride, p[a][b], lanes, spill);
}
#endif

void outputGradTile1(const float *grad, int64_t rowStride, float *dst, int64_t stride) {
  float g[4][4], p[6][6];
  for (int r = 0; r < kTile; ++r)
    for (int c = 0; c < kTile; ++c)
      g[r][c] = grad[r * rowStride + c];
  outputGradTile(g, p);
  for (int a = 0; a < kAlpha; ++a)
    for (int b = 0; b < kAlpha; ++b)
      dst[(kAlpha * a + b) * stride] = p[a][b];
}

void transformOutputGrads(const float *dy, Shape4 ys, const std::vector<TilePlace> &places,
                          TileChunk chunk, int64_t o0, int64_t count, bool vector,
                          float *pOut) {
  const int64_t stride = WinogradPlan::positionStride(count, chunk.count);
  const int64_t rows = kTile * tilesAcross(ys.h), cols = kTile * tilesAcross(ys.w);
  const int64_t n0 = places.front().n, n1 = places[chunk.count - 1].n;
#if defined(LOCUS_HAVE_X86)
  const TileKernel8 tiles8 = vector ? outputGradTiles8 : nullptr;
#else
  const TileKernel8 tiles8 = nullptr;
#endif
  parallelFor(count, count * chunk.count >= 4096, [&](int64_t o) {
    thread_local std::vector<float> buffer;
    // Zero past the map: cropped positions carry no gradient.
    const PaddedMaps maps(dy, ys, o0 + o, n0, n1, /*lead=*/0, rows, cols, buffer);
    transformTiles(maps, places, chunk, tiles8, outputGradTile1, pOut + o * chunk.count,
                   stride);
  });
}

#if defined(LOCUS_HAVE_X86)
/// G^T dU G for input channels c .. c + 7 (36 positions' 8 lanes at src)
/// into their 9 taps each, in filter order at g (72 floats), or added to them.
LOCUS_AVX2 void weightGradTiles8(const float *src, int64_t stride, bool accumulate, float *g) {
  __m256 u[6][6];
  for (int a = 0; a < kAlpha; ++a)
    for (int b = 0; b < kAlpha; ++b)
      u[a][b] = _mm256_loadu_ps(src + (kAlpha * a + b) * stride);
  __m256 r[3][3];
  apply2d<WeightGradAxis>(u, r);
  alignas(32) float taps[9][8];
  for (int a = 0; a < 3; ++a)
    for (int b = 0; b < 3; ++b)
      _mm256_store_ps(taps[3 * a + b], r[a][b]);
  for (int k = 0; k < 8; ++k)
    for (int t = 0; t < 9; ++t)
      g[9 * k + t] = accumulate ? g[9 * k + t] + taps[t][k] : taps[t][k];
}
#endif

void weightGradTile1(const float *src, int64_t stride, bool accumulate, float *g) {
  float u[6][6], r[3][3];
  for (int a = 0; a < kAlpha; ++a)
    for (int b = 0; b < kAlpha; ++b)
      u[a][b] = src[(kAlpha * a + b) * stride];
  apply2d<WeightGradAxis>(u, r);
  for (int a = 0; a < 3; ++a)
    for (int b = 0; b < 3; ++b)
      g[3 * a + b] = accumulate ? g[3 * a + b] + r[a][b] : r[a][b];
}

void transformWeightGrads(const float *du, int64_t channels, int64_t o0, int64_t count,
                          bool accumulate, bool vector, float *dw) {
  const int64_t stride = WinogradPlan::positionStride(count, channels);
  parallelFor(count, count * channels >= 4096, [&](int64_t o) {
    const float *src = du + o * channels;
    float *g = dw + (o0 + o) * channels * 9;
    int64_t c = 0;
#if defined(LOCUS_HAVE_X86)
    if (vector)
      for (; c + 8 <= channels; c += 8)
        weightGradTiles8(src + c, stride, accumulate, g + c * 9);
#endif
    for (; c < channels; ++c)
      weightGradTile1(src + c, stride, accumulate, g + c * 9);
  });
}

} // namespace

const WinogradTransforms &winogradF4Transforms() {
  static const WinogradTransforms t{transformInputs, transformWeights, transformOutputs,
                                    transformOutputGrads, transformWeightGrads};
  return t;
}

} // namespace locus::rt::cpu
