//===- WinogradF7.cpp - the transforms of Winograd F(7x7, 3x3) ------------===//
//
// 7x7 output tiles from 9x9 input patches, with the points 0, 1, -1, 1/2,
// -1/2, 2, -2, 3/4 and infinity:
//   Y = A^T [ (G g G^T) .* (B^T d B) ] A,  81 positions,
// 81 multiplications per tile and channel pair where F(4x4, 3x3) takes 36 for
// a 4x4 tile. Maps whose side is a multiple of 7 (Fashion-MNIST's 14 x 14,
// 28 x 28) then need 44% (14) or 27% (28) fewer GEMM multiplications than
// with 4x4 tiles, which crop a 16 x 16 cover to 14 x 14. The price is
// rounding: the transforms' factors (up to 7.4 in B^T, down to 1/250 in G)
// leave a relative error near 5e-5 in float32 (measured on 128-channel
// sums: 20x F(4x4)'s 2.5e-6), below the 2^-11 rounding of TF32, which GPU
// training uses for convolutions by default. LOCUS_CPU_WINOGRAD=4 keeps every
// layer on 4x4 tiles or smaller.
//
// The 1-D maps are generated from the points (exact rationals, rounded once
// to float); as in WinogradF4.cpp they serve a float and an AVX2 register
// of 8 tiles alike, and gather4x8 / scatter4x8 (Simd.h) move 4-float rows of
// 8 tiles in and out of the lanes.
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

constexpr int kAlpha = 9; // the transformed tile's side
constexpr int kTile = 7;  // the output tile's side

// Generated from the points above: row k of a map is the rational
// coefficients of its matrix (B^T, G, A^T, A = (A^T)^T, G^T), zeros left out.
/// B^T: the input transform along one axis, 9 -> 9.
struct InputAxis {
  template <class V> static LOCUS_ALWAYS_INLINE void apply(const V (&i)[9], V (&o)[9]) {
    o[0] = 0.75f * i[0] - i[1] - 3.9375f * i[2] + 5.25f * i[3] + 3.9375f * i[4] - 5.25f * i[5]
        - 0.75f * i[6] + i[7];
    o[1] = -0.75f * i[1] + 0.25f * i[2] + 4.1875f * i[3] - 1.0625f * i[4] - 5.0f * i[5]
        + 0.25f * i[6] + i[7];
    o[2] = 0.75f * i[1] - 1.75f * i[2] - 2.1875f * i[3] + 7.4375f * i[4] - 3.5f * i[5]
        - 1.75f * i[6] + i[7];
    o[3] = -1.5f * i[1] - i[2] + 5.875f * i[3] + 1.25f * i[4] - 5.375f * i[5] - 0.25f * i[6] + i[7];
    o[4] = 1.5f * i[1] - 5.0f * i[2] + 2.125f * i[3] + 6.25f * i[4] - 4.625f * i[5] - 1.25f * i[6]
        + i[7];
    o[5] = -0.375f * i[1] + 0.3125f * i[2] + 2.125f * i[3] - 1.5625f * i[4] - 2.75f * i[5]
        + 1.25f * i[6] + i[7];
    o[6] = 0.375f * i[1] - 0.6875f * i[2] - 1.625f * i[3] + 3.4375f * i[4] + 0.25f * i[5]
        - 2.75f * i[6] + i[7];
    o[7] = -i[1] + 5.25f * i[3] - 5.25f * i[5] + i[7];
    o[8] = 0.75f * i[1] - i[2] - 3.9375f * i[3] + 5.25f * i[4] + 3.9375f * i[5] - 5.25f * i[6]
        - 0.75f * i[7] + i[8];
  }
};

/// G: the weight transform along one axis, 3 -> 9.
struct WeightAxis {
  template <class V> static LOCUS_ALWAYS_INLINE void apply(const V (&i)[3], V (&o)[9]) {
    o[0] = 1.33333333f * i[0];
    o[1] = -0.888888889f * i[0] - 0.888888889f * i[1] - 0.888888889f * i[2];
    o[2] = 0.126984127f * i[0] - 0.126984127f * i[1] + 0.126984127f * i[2];
    o[3] = -2.84444444f * i[0] - 1.42222222f * i[1] - 0.711111111f * i[2];
    o[4] = -0.568888889f * i[0] + 0.284444444f * i[1] - 0.142222222f * i[2];
    o[5] = 0.00888888889f * i[0] + 0.0177777778f * i[1] + 0.0355555556f * i[2];
    o[6] = -0.00404040404f * i[0] + 0.00808080808f * i[1] - 0.0161616162f * i[2];
    o[7] = 2.83705628f * i[0] + 2.12779221f * i[1] + 1.59584416f * i[2];
    o[8] = i[2];
  }
};

/// A^T: the output transform along one axis, 9 -> 7.
struct OutputAxis {
  template <class V> static LOCUS_ALWAYS_INLINE void apply(const V (&i)[9], V (&o)[7]) {
    o[0] = i[0] + i[1] + i[2] + i[3] + i[4] + i[5] + i[6] + i[7];
    o[1] = i[1] - i[2] + 0.5f * i[3] - 0.5f * i[4] + 2.0f * i[5] - 2.0f * i[6] + 0.75f * i[7];
    o[2] = i[1] + i[2] + 0.25f * i[3] + 0.25f * i[4] + 4.0f * i[5] + 4.0f * i[6] + 0.5625f * i[7];
    o[3] = i[1] - i[2] + 0.125f * i[3] - 0.125f * i[4] + 8.0f * i[5] - 8.0f * i[6]
        + 0.421875f * i[7];
    o[4] = i[1] + i[2] + 0.0625f * i[3] + 0.0625f * i[4] + 16.0f * i[5] + 16.0f * i[6]
        + 0.31640625f * i[7];
    o[5] = i[1] - i[2] + 0.03125f * i[3] - 0.03125f * i[4] + 32.0f * i[5] - 32.0f * i[6]
        + 0.2373046875f * i[7];
    o[6] = i[1] + i[2] + 0.015625f * i[3] + 0.015625f * i[4] + 64.0f * i[5] + 64.0f * i[6]
        + 0.177978515625f * i[7] + i[8];
  }
};

/// A: the adjoint of OutputAxis, 7 -> 9 (the output gradient's transform).
struct OutputGradAxis {
  template <class V> static LOCUS_ALWAYS_INLINE void apply(const V (&i)[7], V (&o)[9]) {
    o[0] = i[0];
    o[1] = i[0] + i[1] + i[2] + i[3] + i[4] + i[5] + i[6];
    o[2] = i[0] - i[1] + i[2] - i[3] + i[4] - i[5] + i[6];
    o[3] = i[0] + 0.5f * i[1] + 0.25f * i[2] + 0.125f * i[3] + 0.0625f * i[4] + 0.03125f * i[5]
        + 0.015625f * i[6];
    o[4] = i[0] - 0.5f * i[1] + 0.25f * i[2] - 0.125f * i[3] + 0.0625f * i[4] - 0.03125f * i[5]
        + 0.015625f * i[6];
    o[5] = i[0] + 2.0f * i[1] + 4.0f * i[2] + 8.0f * i[3] + 16.0f * i[4] + 32.0f * i[5]
        + 64.0f * i[6];
    o[6] = i[0] - 2.0f * i[1] + 4.0f * i[2] - 8.0f * i[3] + 16.0f * i[4] - 32.0f * i[5]
        + 64.0f * i[6];
    o[7] = i[0] + 0.75f * i[1] + 0.5625f * i[2] + 0.421875f * i[3] + 0.31640625f * i[4]
        + 0.2373046875f * i[5] + 0.177978515625f * i[6];
    o[8] = i[6];
  }
};

/// G^T: the adjoint of WeightAxis, 9 -> 3 (the weight gradient's transform).
struct WeightGradAxis {
  template <class V> static LOCUS_ALWAYS_INLINE void apply(const V (&i)[9], V (&o)[3]) {
    o[0] = 1.33333333f * i[0] - 0.888888889f * i[1] + 0.126984127f * i[2] - 2.84444444f * i[3]
        - 0.568888889f * i[4] + 0.00888888889f * i[5] - 0.00404040404f * i[6] + 2.83705628f * i[7];
    o[1] = -0.888888889f * i[1] - 0.126984127f * i[2] - 1.42222222f * i[3] + 0.284444444f * i[4]
        + 0.0177777778f * i[5] + 0.00808080808f * i[6] + 2.12779221f * i[7];
    o[2] = -0.888888889f * i[1] + 0.126984127f * i[2] - 0.711111111f * i[3] - 0.142222222f * i[4]
        + 0.0355555556f * i[5] - 0.0161616162f * i[6] + 1.59584416f * i[7] + i[8];
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
template <class V> LOCUS_ALWAYS_INLINE void inputTile(const V (&d)[9][9], V (&v)[9][9]) {
  apply2d<InputAxis>(d, v);
}
template <class V> LOCUS_ALWAYS_INLINE void outputTile(const V (&m)[9][9], V (&y)[7][7]) {
  apply2d<OutputAxis>(m, y);
}
template <class V> LOCUS_ALWAYS_INLINE void outputGradTile(const V (&g)[7][7], V (&p)[9][9]) {
  apply2d<OutputGradAxis>(g, p);
}

/// The 8-tile kernels put one tile in each AVX2 lane wherever it lies (a
/// 14 x 14 map has rows of only 3.5 tiles); only the chunk's last group has
/// fewer lanes, and storeLanes keeps the rest out of scratch.
#if defined(LOCUS_HAVE_X86)
LOCUS_AVX2 void inputTiles8(const float *const patch[8], int64_t rowStride, float *dst,
                            int64_t stride, int64_t lanes, bool spill) {
  __m256 d[9][9];
  for (int r = 0; r < kAlpha; ++r) {
    const float *cols0[8], *cols4[8], *cols8[8];
    for (int k = 0; k < 8; ++k) {
      cols0[k] = patch[k] + r * rowStride;
      cols4[k] = cols0[k] + 4;
      cols8[k] = cols0[k] + 8;
    }
    __m256 low[4], mid[4], high[4];
    gather4x8(cols0, low);  // patch columns 0-3
    gather4x8(cols4, mid);  // 4-7
    gather4x8(cols8, high); // 8 (9-11 unused)
    for (int c = 0; c < 4; ++c) {
      d[r][c] = low[c];
      d[r][4 + c] = mid[c];
    }
    d[r][8] = high[0];
  }
  __m256 v[9][9];
  inputTile(d, v);
  for (int a = 0; a < kAlpha; ++a)
    for (int b = 0; b < kAlpha; ++b)
      storeLanes(dst + (kAlpha * a + b) * stride, v[a][b], lanes, spill);
}
#endif

void inputTile1(const float *patch, int64_t rowStride, float *dst, int64_t stride) {
  float d[9][9], v[9][9];
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
/// 9 taps each, into lanes by a stride-9 gather) to U's 81 positions.
LOCUS_AVX2 void weightTiles8(const float *g, float *dst, int64_t stride) {
  const __m256i filters = _mm256_setr_epi32(0, 9, 18, 27, 36, 45, 54, 63);
  __m256 in[3][3];
  for (int a = 0; a < 3; ++a)
    for (int b = 0; b < 3; ++b)
      in[a][b] = _mm256_i32gather_ps(g + 3 * a + b, filters, 4);
  __m256 t[9][9];
  apply2d<WeightAxis>(in, t);
  for (int a = 0; a < kAlpha; ++a)
    for (int b = 0; b < kAlpha; ++b)
      _mm256_storeu_ps(dst + (kAlpha * a + b) * stride, t[a][b]);
}
#endif

void weightTile1(const float *g, float *dst, int64_t stride) {
  const float g3[3][3] = {{g[0], g[1], g[2]}, {g[3], g[4], g[5]}, {g[6], g[7], g[8]}};
  float t[9][9];
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
/// reading the next row or the position's skew, still scratch) into their 7
/// output rows: out[a][k] is row a of tile k, 8 floats (the 8th is spare).
/// The products read are left zero.
LOCUS_AVX2 void outputTiles8(float *m, int64_t stride, float b, int64_t lanes,
                             float *const out[7][8]) {
  __m256 in[9][9];
  const __m256 zero = _mm256_setzero_ps();
  for (int a = 0; a < kAlpha; ++a)
    for (int c = 0; c < kAlpha; ++c) {
      float *at = m + (kAlpha * a + c) * stride;
      in[a][c] = _mm256_loadu_ps(at);
      storeLanes(at, zero, lanes, /*spill=*/false);
    }
  __m256 y[7][7];
  outputTile(in, y);
  const __m256 bias = _mm256_set1_ps(b);
  for (int a = 0; a < kTile; ++a) {
    const __m256 low[4] = {_mm256_add_ps(y[a][0], bias), _mm256_add_ps(y[a][1], bias),
                           _mm256_add_ps(y[a][2], bias), _mm256_add_ps(y[a][3], bias)};
    const __m256 high[4] = {_mm256_add_ps(y[a][4], bias), _mm256_add_ps(y[a][5], bias),
                            _mm256_add_ps(y[a][6], bias), zero};
    float *right[8];
    for (int k = 0; k < 8; ++k)
      right[k] = out[a][k] + 4;
    scatter4x8(low, out[a]);
    scatter4x8(high, right);
  }
}
#endif

void outputTile1(float *m, int64_t stride, float b, float *const out[7]) {
  float in[9][9], y[7][7];
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
/// output channel o0 (channel o adds o planes), and its rows and columns
/// inside the map.
struct TileOutput {
  int64_t offset;
  int rows, cols;
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
               static_cast<int>(std::min<int64_t>(kTile, h - t.y0)),
               static_cast<int>(std::min<int64_t>(kTile, w - t.x0))};
  }
  parallelFor(count, count * chunk.count >= 4096, [&](int64_t o) {
    const float b = bias ? bias[o0 + o] : 0.0f;
    float *src = m + o * chunk.count;
    float *yo = y + o * plane;
    // Every tile goes through spare rows of 8 floats (a 7-float row stored as
    // two 4-float halves would overrun into its neighbour), then its map part
    // is copied: the tile walk is memory-bound, the copy stays in L1.
    float spare[8][kTile][8];
    auto copyOut = [&](int64_t i, int k) {
      const TileOutput &t = outs[i];
      for (int a = 0; a < t.rows; ++a)
        std::copy(spare[k][a], spare[k][a] + t.cols, yo + t.offset + a * w);
    };
    int64_t i = 0;
#if defined(LOCUS_HAVE_X86)
    if (vector)
      for (; i < chunk.count; i += 8) {
        const int64_t lanes = std::min<int64_t>(8, chunk.count - i);
        float *out[kTile][8];
        for (int k = 0; k < 8; ++k)
          for (int a = 0; a < kTile; ++a)
            out[a][k] = spare[k][a];
        outputTiles8(src + i, stride, b, lanes, out);
        for (int k = 0; k < lanes; ++k)
          copyOut(i + k, k);
      }
#endif
    for (; i < chunk.count; ++i) {
      float *out[kTile];
      for (int a = 0; a < kTile; ++a)
        out[a] = spare[0][a];
      outputTile1(src + i, stride, b, out);
      copyOut(i, 0);
    }
  });
}

#if defined(LOCUS_HAVE_X86)
/// P = A dY A^T of 8 tiles whose 7x7 gradients start at grad[k], rows
/// rowStride apart (each row read as 8 floats, the 8th unused).
LOCUS_AVX2 void outputGradTiles8(const float *const grad[8], int64_t rowStride, float *dst,
                                 int64_t stride, int64_t lanes, bool spill) {
  __m256 g[7][7];
  for (int r = 0; r < kTile; ++r) {
    const float *left[8], *right[8];
    for (int k = 0; k < 8; ++k) {
      left[k] = grad[k] + r * rowStride;
      right[k] = left[k] + 4;
    }
    __m256 low[4], high[4];
    gather4x8(left, low);
    gather4x8(right, high);
    for (int c = 0; c < 4; ++c)
      g[r][c] = low[c];
    for (int c = 0; c < 3; ++c)
      g[r][4 + c] = high[c];
  }
  __m256 p[9][9];
  outputGradTile(g, p);
  for (int a = 0; a < kAlpha; ++a)
    for (int b = 0; b < kAlpha; ++b)
      storeLanes(dst + (kAlpha * a + b) * stride, p[a][b], lanes, spill);
}
#endif

void outputGradTile1(const float *grad, int64_t rowStride, float *dst, int64_t stride) {
  float g[7][7], p[9][9];
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
  // One column more than the tiles cover: the last tile's rows are read 8 wide.
  const int64_t rows = kTile * tilesAcross(ys.h), cols = kTile * tilesAcross(ys.w) + 1;
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
/// G^T dU G for input channels c .. c + 7 (81 positions' 8 lanes at src)
/// into their 9 taps each, in filter order at g (72 floats), or added to them.
LOCUS_AVX2 void weightGradTiles8(const float *src, int64_t stride, bool accumulate, float *g) {
  __m256 u[9][9];
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
  float u[9][9], r[3][3];
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

const WinogradTransforms &winogradF7Transforms() {
  static const WinogradTransforms t{transformInputs, transformWeights, transformOutputs,
                                    transformOutputGrads, transformWeightGrads};
  return t;
}

} // namespace locus::rt::cpu
