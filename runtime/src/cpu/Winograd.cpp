//===- Winograd.cpp - 3x3 convolutions by Winograd F(2x2, 3x3) -----------===//
//
// Each 2x2 output tile of a 3x3 convolution (stride 1, padding 1) is
//   Y = A^T [ (G g G^T) .* (B^T d B) ] A
// for its 4x4 input patch d, so over all tiles and channels the convolution
// becomes 16 independent GEMMs, one per position xi of the 4x4 transformed
// tile: M_xi [O x T] = U_xi [O x C] V_xi [C x T]. That is 16 multiplications
// per tile and channel pair instead of 36 (2.25x fewer), the rest is adds.
// The weight gradient is the exact adjoint of the same computation:
//   dU_xi [O x C] = P_xi [O x T] V_xi^T,  P = A dY A^T per tile,  dW = G^T dU G.
// F(2x2, 3x3) keeps float32 rounding close to the direct convolution (the
// unit tests hold it to 1e-5 relative); larger tiles would save more and lose
// more digits.
//
// The 16 GEMMs of a chunk are spread over the runtime's workers, each one a
// single-threaded SGEMM (Gemm.cpp), so no GEMM is split into thin panels.
//
//===----------------------------------------------------------------------===//
#include "cpu/Winograd.h"

#include "cpu/Parallel.h"
#include "cpu/Simd.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace locus::rt::cpu {

namespace {

constexpr int64_t kPositions = 16;

/// Where a tile chunk's transformed data lives: [16][rows][count] floats.
struct TileChunk {
  int64_t first = 0, count = 0;
};

/// A tile's place, worked out once per chunk instead of once per channel:
/// its sample, and the top-left corner of its 2x2 output block.
struct TilePlace {
  int64_t n, y0, x0;
};

void placeTiles(const WinogradPlan &p, TileChunk chunk, std::vector<TilePlace> &places) {
  const int64_t perMap = p.tilesY * p.tilesX;
  places.resize(static_cast<size_t>(chunk.count));
  for (int64_t i = 0; i < chunk.count; ++i) {
    const int64_t t = chunk.first + i, r = t % perMap;
    places[i] = {t / perMap, 2 * (r / p.tilesX), 2 * (r % p.tilesX)};
  }
}

/// V[xi][c][i] = (B^T d B)[xi] of tile first + i, input channel c.
/// Input rows y0-1 .. y0+2 of one tile row, zero-padded: column j of a
/// padded row is input column j - 1, so tile bx's patch starts at column 2 bx;
/// `width` covers the widest read (a vector group reads 18 columns).
struct PaddedRows {
  const float *row[4];
};

PaddedRows padRows(const float *src, int64_t h, int64_t w, int64_t y0, float *buffer,
                   int64_t width) {
  PaddedRows r;
  for (int a = 0; a < 4; ++a) {
    float *dst = buffer + a * width;
    const int64_t yy = y0 - 1 + a;
    std::fill(dst, dst + width, 0.0f);
    if (yy >= 0 && yy < h)
      std::copy(src + yy * w, src + (yy + 1) * w, dst + 1);
    r.row[a] = dst;
  }
  return r;
}

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
/// inputTile for 8 horizontally adjacent tiles (patches at col, col + 2, ...).
LOCUS_AVX2 void inputTiles8(const PaddedRows &r, int64_t col, float *dst, int64_t stride) {
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
    _mm256_storeu_ps(row, _mm256_sub_ps(t4[a][0], t4[a][2]));
    _mm256_storeu_ps(row + stride, _mm256_add_ps(t4[a][1], t4[a][2]));
    _mm256_storeu_ps(row + 2 * stride, _mm256_sub_ps(t4[a][2], t4[a][1]));
    _mm256_storeu_ps(row + 3 * stride, _mm256_sub_ps(t4[a][1], t4[a][3]));
  }
}
#endif

/// V[xi][c][i] = (B^T d B)[xi] of tile first + i, input channel c. Tiles go
/// by runs along a tile row, 8 at a time where the CPU has AVX2.
void transformInputs(const float *x, Shape4 xs, const std::vector<TilePlace> &places,
                     TileChunk chunk, float *v) {
  const int64_t channels = xs.c, h = xs.h, w = xs.w, plane = h * w;
  const int64_t stride = WinogradPlan::positionStride(channels, chunk.count);
  const int64_t width = w + 20;
  const bool vector = useAvx2();
  parallelFor(channels, channels * chunk.count >= 4096, [&](int64_t c) {
    thread_local std::vector<float> buffer;
    if (static_cast<int64_t>(buffer.size()) < 4 * width)
      buffer.resize(static_cast<size_t>(4 * width));
    float *dst = v + c * chunk.count;
    for (int64_t i = 0; i < chunk.count;) {
      const TilePlace &first = places[i];
      int64_t end = i + 1; // the run: same sample and tile row
      while (end < chunk.count && places[end].n == first.n && places[end].y0 == first.y0)
        ++end;
      const PaddedRows r =
          padRows(x + (first.n * channels + c) * plane, h, w, first.y0, buffer.data(), width);
      const int64_t run = end - i, col0 = first.x0;
      int64_t k = 0;
#if defined(LOCUS_HAVE_X86)
      if (vector && run >= 8) {
        // The last group overlaps the one before it: it rewrites the same values.
        for (; k < run; k += 8) {
          const int64_t g = std::min(k, run - 8);
          inputTiles8(r, col0 + 2 * g, dst + i + g, stride);
        }
      }
#endif
      for (; k < run; ++k)
        inputTile(r, col0 + 2 * k, dst + i + k, stride);
      i = end;
    }
  });
}

/// U[xi][o][c] = (G g G^T)[xi] for outputs [o0, o0 + count).
void transformWeights(const float *w, int64_t channels, int64_t o0, int64_t count, float *u) {
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

/// y[n][o0 + o] tiles = A^T M A (+ bias), cropped to the map.
void transformOutputs(const float *m, const std::vector<TilePlace> &places, TileChunk chunk,
                      int64_t o0, int64_t count, const float *bias, float *y, Shape4 ys) {
  const int64_t h = ys.h, w = ys.w, plane = h * w;
  const int64_t stride = WinogradPlan::positionStride(count, chunk.count);
  parallelFor(count, count * chunk.count >= 4096, [&](int64_t o) {
    const float b = bias ? bias[o0 + o] : 0.0f;
    const float *src = m + o * chunk.count;
    for (int64_t i = 0; i < chunk.count; ++i) {
      float t[2][4]; // A^T M
      for (int b4 = 0; b4 < 4; ++b4) {
        const float m0 = src[i + b4 * stride], m1 = src[i + (4 + b4) * stride];
        const float m2 = src[i + (8 + b4) * stride], m3 = src[i + (12 + b4) * stride];
        t[0][b4] = m0 + m1 + m2;
        t[1][b4] = m1 - m2 - m3;
      }
      const TilePlace &at = places[i];
      const int64_t y0 = at.y0, x0 = at.x0;
      float *dst = y + (at.n * ys.c + o0 + o) * plane;
      for (int a = 0; a < 2 && y0 + a < h; ++a) { // (A^T M) A
        dst[(y0 + a) * w + x0] = t[a][0] + t[a][1] + t[a][2] + b;
        if (x0 + 1 < w)
          dst[(y0 + a) * w + x0 + 1] = t[a][1] - t[a][2] - t[a][3] + b;
      }
    }
  });
}

/// P[xi][o][i] = (A dY A^T)[xi] of tile first + i, outputs [o0, o0 + count);
/// positions past the map carry no gradient.
void transformOutputGrads(const float *dy, Shape4 ys, const std::vector<TilePlace> &places,
                          TileChunk chunk, int64_t o0, int64_t count, float *pOut) {
  const int64_t h = ys.h, w = ys.w, plane = h * w;
  const int64_t stride = WinogradPlan::positionStride(count, chunk.count);
  parallelFor(count, count * chunk.count >= 4096, [&](int64_t o) {
    float *dst = pOut + o * chunk.count;
    for (int64_t i = 0; i < chunk.count; ++i) {
      const TilePlace &at = places[i];
      const int64_t y0 = at.y0, x0 = at.x0;
      const float *src = dy + (at.n * ys.c + o0 + o) * plane + y0 * w + x0;
      float g[2][2];
      if (y0 + 2 <= h && x0 + 2 <= w) {
        g[0][0] = src[0], g[0][1] = src[1], g[1][0] = src[w], g[1][1] = src[w + 1];
      } else {
        for (int a = 0; a < 2; ++a)
          for (int b = 0; b < 2; ++b)
            g[a][b] = y0 + a < h && x0 + b < w ? src[a * w + b] : 0.0f;
      }
      float s[4][2]; // A dY
      for (int b = 0; b < 2; ++b) {
        s[0][b] = g[0][b];
        s[1][b] = g[0][b] + g[1][b];
        s[2][b] = g[0][b] - g[1][b];
        s[3][b] = -g[1][b];
      }
      for (int a = 0; a < 4; ++a) { // (A dY) A^T
        float *row = dst + i + (4 * a) * stride;
        row[0] = s[a][0];
        row[stride] = s[a][0] + s[a][1];
        row[2 * stride] = s[a][0] - s[a][1];
        row[3 * stride] = -s[a][1];
      }
    }
  });
}

/// dw[o0 + o][c] = G^T dU G, or += when accumulating over tile chunks.
void transformWeightGrads(const float *du, int64_t channels, int64_t o0, int64_t count,
                          bool accumulate, float *dw) {
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

/// The scratch regions of one chunk pair.
struct Scratch {
  float *weights, *inputs, *products;
};

Scratch carve(Workspace &ws, int64_t wsFloats, const WinogradPlan &p, int64_t channels) {
  float *base = ws.get(std::max(wsFloats, p.floats(channels)));
  Scratch s;
  s.weights = base;
  s.inputs = s.weights + kPositions * WinogradPlan::positionStride(p.outChunk, channels);
  s.products = s.inputs + kPositions * WinogradPlan::positionStride(channels, p.tileChunk);
  return s;
}

/// Whether to walk tile chunks outside output chunks. Inside, the inner
/// operand's transform is redone for every outer chunk: the inputs' (C x T
/// tiles) with output chunks outside, the weights' (O x C) with tile chunks
/// outside. Deep layers (few tiles, many weights) and early ones (the
/// reverse) want opposite orders.
bool tilesOutside(const WinogradPlan &p, int64_t outChannels) {
  const int64_t outChunks = (outChannels + p.outChunk - 1) / p.outChunk;
  const int64_t tileChunks = (p.tiles + p.tileChunk - 1) / p.tileChunk;
  const int64_t redoneWeights = outChunks == 1 ? 0 : (tileChunks - 1) * outChannels;
  const int64_t redoneInputs = (outChunks - 1) * p.tiles;
  return redoneWeights < redoneInputs;
}

/// Calls body(o0, oc, chunk, freshWeights, freshInputs) for every pair of an
/// output chunk [o0, o0 + oc) and a tile chunk, in the cheaper order; the
/// flags say whether the weights' or inputs' transform in scratch is stale.
template <typename Body>
void forEachChunkPair(const WinogradPlan &p, int64_t outChannels, Body &&body) {
  const bool tilesOut = tilesOutside(p, outChannels);
  const int64_t outerCount = tilesOut ? p.tiles : outChannels;
  const int64_t outerStep = tilesOut ? p.tileChunk : p.outChunk;
  const int64_t innerCount = tilesOut ? outChannels : p.tiles;
  const int64_t innerStep = tilesOut ? p.outChunk : p.tileChunk;
  const bool innerRepeats = innerCount > innerStep;
  for (int64_t a = 0; a < outerCount; a += outerStep)
    for (int64_t b = 0; b < innerCount; b += innerStep) {
      const int64_t o0 = tilesOut ? b : a, t0 = tilesOut ? a : b;
      const TileChunk chunk{t0, std::min(p.tileChunk, p.tiles - t0)};
      const int64_t oc = std::min(p.outChunk, outChannels - o0);
      // The outer operand changes when b restarts; the inner one every time
      // unless it has a single chunk (then it is transformed once).
      const bool outerFresh = b == 0, innerFresh = innerRepeats || a == 0;
      body(o0, oc, chunk, tilesOut ? innerFresh : outerFresh, tilesOut ? outerFresh : innerFresh);
    }
}

} // namespace

bool winogradEnabled(Shape4 xs, const Window &win, int64_t outChannels) {
  static const bool off = [] {
    const char *env = std::getenv("LOCUS_CPU_WINOGRAD");
    return env && std::strcmp(env, "0") == 0;
  }();
  return !off && winogradShape(xs, win, outChannels);
}

void winogradConv2dForward(const float *x, Shape4 xs, const float *w, int64_t outChannels,
                           const float *b, float *y, Workspace &ws, int64_t wsFloats) {
  const WinogradPlan p = winogradPlan(xs, outChannels);
  const int64_t channels = xs.c;
  const Shape4 ys{xs.n, outChannels, xs.h, xs.w};
  const Scratch s = carve(ws, wsFloats, p, channels);
  std::vector<TilePlace> places;
  forEachChunkPair(p, outChannels, [&](int64_t o0, int64_t oc, TileChunk chunk, bool freshWeights,
                                       bool freshInputs) {
    if (freshWeights)
      transformWeights(w, channels, o0, oc, s.weights);
    placeTiles(p, chunk, places);
    if (freshInputs)
      transformInputs(x, xs, places, chunk, s.inputs);
    const int64_t uStride = WinogradPlan::positionStride(oc, channels);
    const int64_t vStride = WinogradPlan::positionStride(channels, chunk.count);
    const int64_t mStride = WinogradPlan::positionStride(oc, chunk.count);
    parallelFor(kPositions, true, [&](int64_t xi) {
      gemm(false, false, oc, chunk.count, channels, 1.0f, s.weights + xi * uStride,
           s.inputs + xi * vStride, 0.0f, s.products + xi * mStride);
    });
    transformOutputs(s.products, places, chunk, o0, oc, b, y, ys);
  });
}

void winogradConv2dBackwardWeight(const float *x, Shape4 xs, const float *dy,
                                  int64_t outChannels, float *dw, Workspace &ws,
                                  int64_t wsFloats) {
  const WinogradPlan p = winogradPlan(xs, outChannels);
  const int64_t channels = xs.c;
  const Shape4 ys{xs.n, outChannels, xs.h, xs.w};
  const Scratch s = carve(ws, wsFloats, p, channels);
  std::vector<TilePlace> places;
  // dU is linear in the tiles, so each chunk pair's G^T dU G is added into dw
  // (the first tile chunk stores).
  forEachChunkPair(p, outChannels, [&](int64_t o0, int64_t oc, TileChunk chunk, bool,
                                       bool freshInputs) {
    placeTiles(p, chunk, places);
    if (freshInputs)
      transformInputs(x, xs, places, chunk, s.inputs);
    transformOutputGrads(dy, ys, places, chunk, o0, oc, s.products);
    const int64_t uStride = WinogradPlan::positionStride(oc, channels);
    const int64_t vStride = WinogradPlan::positionStride(channels, chunk.count);
    const int64_t pStride = WinogradPlan::positionStride(oc, chunk.count);
    parallelFor(kPositions, true, [&](int64_t xi) {
      gemm(false, true, oc, channels, chunk.count, 1.0f, s.products + xi * pStride,
           s.inputs + xi * vStride, 0.0f, s.weights + xi * uStride);
    });
    transformWeightGrads(s.weights, channels, o0, oc, /*accumulate=*/chunk.first > 0, dw);
  });
}

} // namespace locus::rt::cpu
