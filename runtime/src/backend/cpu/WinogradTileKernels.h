//===- WinogradTileKernels.h - the transforms shared by F(4x4) and F(7x7) -*- C++ -*-===//
//
// The input, weight, output-gradient and weight-gradient transforms of a tile
// size differ only in its sides and its 1-D maps, so they are written once
// here over a `Tiles` description:
//   Tiles::kAlpha, Tiles::kTile: the transformed and the output tile's side;
//   Tiles::Input (B^T), Tiles::Weight (G), Tiles::OutputGrad (A),
//   Tiles::WeightGrad (G^T): structs with a static apply(in, out) template
//   that serves a float and an AVX2 register of 8 tiles alike.
// WinogradF4.cpp and WinogradF7.cpp define those and their own output
// transform (how a tile's rows reach y differs). The 8-tile kernels put one
// tile in each AVX2 lane wherever it lies (a 14 x 14 map has rows of only
// 3.5 4x4 tiles); only a chunk's last group has fewer lanes, and storeLanes
// keeps the rest out of scratch.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_BACKEND_CPU_SRC_WINOGRADTILEKERNELS_H
#define LOCUS_RUNTIME_BACKEND_CPU_SRC_WINOGRADTILEKERNELS_H

#include "backend/cpu/Parallel.h"
#include "backend/cpu/Simd.h"
#include "backend/cpu/WinogradTileWalk.h"
#include "backend/cpu/WinogradTransforms.h"

#include <vector>

// The 1-D maps must inline into the AVX2 kernels to get their instructions.
#define LOCUS_ALWAYS_INLINE inline __attribute__((always_inline))

namespace locus::rt::cpu::winograd {

/// Map (an axis struct) applied along the rows of an R x C tile, then along
/// the columns of the result: an R2 x C2 tile.
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

/// Output tiles across a map side.
template <class Tiles> int64_t tilesAcross(int64_t side) {
  return (side + Tiles::kTile - 1) / Tiles::kTile;
}

/// Floats a tile row's vector loads read: whole groups of 4 columns.
constexpr int64_t loadedWidth(int64_t side) { return (side + 3) / 4 * 4; }

#if defined(LOCUS_HAVE_X86)
/// Row r of 8 tiles (operands tile[k], rows rowStride apart), its first N
/// columns into lanes: row[c] holds column c of the 8 tiles (read in groups
/// of 4 columns; those past N are dropped).
template <int N>
LOCUS_AVX2 LOCUS_ALWAYS_INLINE void gatherRow(const float *const tile[8], int64_t rowStride,
                                              int r, __m256 (&row)[N]) {
  for (int c0 = 0; c0 < N; c0 += 4) {
    const float *at[8];
    for (int k = 0; k < 8; ++k)
      at[k] = tile[k] + r * rowStride + c0;
    __m256 cols[4];
    gather4x8(at, cols);
    for (int c = c0; c < N && c < c0 + 4; ++c)
      row[c] = cols[c - c0];
  }
}

/// B^T d B of 8 patches to the transformed positions of `lanes` of them.
template <class Tiles>
LOCUS_AVX2 void inputTiles8(const float *const patch[8], int64_t rowStride, float *dst,
                            int64_t stride, int64_t lanes, bool spill) {
  constexpr int A = Tiles::kAlpha;
  __m256 d[A][A];
  for (int r = 0; r < A; ++r)
    gatherRow(patch, rowStride, r, d[r]);
  __m256 v[A][A];
  apply2d<typename Tiles::Input>(d, v);
  for (int a = 0; a < A; ++a)
    for (int b = 0; b < A; ++b)
      storeLanes(dst + (A * a + b) * stride, v[a][b], lanes, spill);
}
#endif

template <class Tiles>
void inputTile1(const float *patch, int64_t rowStride, float *dst, int64_t stride) {
  constexpr int A = Tiles::kAlpha;
  float d[A][A], v[A][A];
  for (int r = 0; r < A; ++r)
    for (int c = 0; c < A; ++c)
      d[r][c] = patch[r * rowStride + c];
  apply2d<typename Tiles::Input>(d, v);
  for (int a = 0; a < A; ++a)
    for (int b = 0; b < A; ++b)
      dst[(A * a + b) * stride] = v[a][b];
}

template <class Tiles>
void transformInputs(const float *x, Shape4 xs, const std::vector<TilePlace> &places,
                     TileChunk chunk, bool vector, float *v) {
  constexpr int64_t T = Tiles::kTile;
  const int64_t stride = WinogradPlan::positionStride(xs.c, chunk.count);
  const int64_t rows = T * tilesAcross<Tiles>(xs.h) + 2, cols = T * tilesAcross<Tiles>(xs.w) + 2;
  const int64_t n0 = places.front().n, n1 = places[chunk.count - 1].n;
#if defined(LOCUS_HAVE_X86)
  const TileKernel8 tiles8 = vector ? inputTiles8<Tiles> : nullptr;
#else
  const TileKernel8 tiles8 = nullptr;
#endif
  parallelFor(xs.c, xs.c * chunk.count >= 4096, [&](int64_t c) {
    thread_local std::vector<float> buffer;
    // Tile (y0, x0)'s patch starts at map row y0 - 1, column x0 - 1: padded (y0, x0).
    const PaddedMaps maps(x, xs, c, n0, n1, /*lead=*/1, rows, cols, buffer);
    transformTiles(maps, places, chunk, tiles8, inputTile1<Tiles>, v + c * chunk.count, stride);
  });
}

#if defined(LOCUS_HAVE_X86)
/// G g G^T of the filters of input channels c .. c + 7 (72 floats from g,
/// 9 taps each, into lanes by a stride-9 gather) to U's positions.
template <class Tiles> LOCUS_AVX2 void weightTiles8(const float *g, float *dst, int64_t stride) {
  constexpr int A = Tiles::kAlpha;
  const __m256i filters = _mm256_setr_epi32(0, 9, 18, 27, 36, 45, 54, 63);
  __m256 in[3][3];
  for (int a = 0; a < 3; ++a)
    for (int b = 0; b < 3; ++b)
      in[a][b] = _mm256_i32gather_ps(g + 3 * a + b, filters, 4);
  __m256 t[A][A];
  apply2d<typename Tiles::Weight>(in, t);
  for (int a = 0; a < A; ++a)
    for (int b = 0; b < A; ++b)
      _mm256_storeu_ps(dst + (A * a + b) * stride, t[a][b]);
}
#endif

template <class Tiles> void weightTile1(const float *g, float *dst, int64_t stride) {
  constexpr int A = Tiles::kAlpha;
  const float g3[3][3] = {{g[0], g[1], g[2]}, {g[3], g[4], g[5]}, {g[6], g[7], g[8]}};
  float t[A][A];
  apply2d<typename Tiles::Weight>(g3, t);
  for (int a = 0; a < A; ++a)
    for (int b = 0; b < A; ++b)
      dst[(A * a + b) * stride] = t[a][b];
}

template <class Tiles>
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
        weightTiles8<Tiles>(g + c * 9, dst + c, stride);
#endif
    for (; c < channels; ++c)
      weightTile1<Tiles>(g + c * 9, dst + c, stride);
  });
}

#if defined(LOCUS_HAVE_X86)
/// P = A dY A^T of 8 tiles whose gradients start at grad[k], rows rowStride
/// apart (each row read in groups of 4 floats).
template <class Tiles>
LOCUS_AVX2 void outputGradTiles8(const float *const grad[8], int64_t rowStride, float *dst,
                                 int64_t stride, int64_t lanes, bool spill) {
  constexpr int A = Tiles::kAlpha, T = Tiles::kTile;
  __m256 g[T][T];
  for (int r = 0; r < T; ++r)
    gatherRow(grad, rowStride, r, g[r]);
  __m256 p[A][A];
  apply2d<typename Tiles::OutputGrad>(g, p);
  for (int a = 0; a < A; ++a)
    for (int b = 0; b < A; ++b)
      storeLanes(dst + (A * a + b) * stride, p[a][b], lanes, spill);
}
#endif

template <class Tiles>
void outputGradTile1(const float *grad, int64_t rowStride, float *dst, int64_t stride) {
  constexpr int A = Tiles::kAlpha, T = Tiles::kTile;
  float g[T][T], p[A][A];
  for (int r = 0; r < T; ++r)
    for (int c = 0; c < T; ++c)
      g[r][c] = grad[r * rowStride + c];
  apply2d<typename Tiles::OutputGrad>(g, p);
  for (int a = 0; a < A; ++a)
    for (int b = 0; b < A; ++b)
      dst[(A * a + b) * stride] = p[a][b];
}

template <class Tiles>
void transformOutputGrads(const float *dy, Shape4 ys, const std::vector<TilePlace> &places,
                          TileChunk chunk, int64_t o0, int64_t count, bool vector,
                          float *pOut) {
  constexpr int64_t T = Tiles::kTile;
  const int64_t stride = WinogradPlan::positionStride(count, chunk.count);
  // The last tile's rows are read in whole groups of 4 columns.
  const int64_t rows = T * tilesAcross<Tiles>(ys.h),
                cols = T * tilesAcross<Tiles>(ys.w) + loadedWidth(T) - T;
  const int64_t n0 = places.front().n, n1 = places[chunk.count - 1].n;
#if defined(LOCUS_HAVE_X86)
  const TileKernel8 tiles8 = vector ? outputGradTiles8<Tiles> : nullptr;
#else
  const TileKernel8 tiles8 = nullptr;
#endif
  parallelFor(count, count * chunk.count >= 4096, [&](int64_t o) {
    thread_local std::vector<float> buffer;
    // Zero past the map: cropped positions carry no gradient.
    const PaddedMaps maps(dy, ys, o0 + o, n0, n1, /*lead=*/0, rows, cols, buffer);
    transformTiles(maps, places, chunk, tiles8, outputGradTile1<Tiles>, pOut + o * chunk.count,
                   stride);
  });
}

#if defined(LOCUS_HAVE_X86)
/// G^T dU G for input channels c .. c + 7 (the positions' 8 lanes at src)
/// into their 9 taps each, in filter order at g (72 floats), or added to them.
template <class Tiles>
LOCUS_AVX2 void weightGradTiles8(const float *src, int64_t stride, bool accumulate, float *g) {
  constexpr int A = Tiles::kAlpha;
  __m256 u[A][A];
  for (int a = 0; a < A; ++a)
    for (int b = 0; b < A; ++b)
      u[a][b] = _mm256_loadu_ps(src + (A * a + b) * stride);
  __m256 r[3][3];
  apply2d<typename Tiles::WeightGrad>(u, r);
  alignas(32) float taps[9][8];
  for (int a = 0; a < 3; ++a)
    for (int b = 0; b < 3; ++b)
      _mm256_store_ps(taps[3 * a + b], r[a][b]);
  for (int k = 0; k < 8; ++k)
    for (int t = 0; t < 9; ++t)
      g[9 * k + t] = accumulate ? g[9 * k + t] + taps[t][k] : taps[t][k];
}
#endif

template <class Tiles>
void weightGradTile1(const float *src, int64_t stride, bool accumulate, float *g) {
  constexpr int A = Tiles::kAlpha;
  float u[A][A], r[3][3];
  for (int a = 0; a < A; ++a)
    for (int b = 0; b < A; ++b)
      u[a][b] = src[(A * a + b) * stride];
  apply2d<typename Tiles::WeightGrad>(u, r);
  for (int a = 0; a < 3; ++a)
    for (int b = 0; b < 3; ++b)
      g[3 * a + b] = accumulate ? g[3 * a + b] + r[a][b] : r[a][b];
}

template <class Tiles>
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
        weightGradTiles8<Tiles>(src + c, stride, accumulate, g + c * 9);
#endif
    for (; c < channels; ++c)
      weightGradTile1<Tiles>(src + c, stride, accumulate, g + c * 9);
  });
}

/// The table of a tile size, with its own output transform.
template <class Tiles> WinogradTransforms transformsOf(decltype(WinogradTransforms::outputs) outputs) {
  return {transformInputs<Tiles>, transformWeights<Tiles>, outputs,
          transformOutputGrads<Tiles>, transformWeightGrads<Tiles>};
}

} // namespace locus::rt::cpu::winograd

#endif
