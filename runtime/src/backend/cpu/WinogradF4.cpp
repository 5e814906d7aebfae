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
// tiles; the transforms that read tiles or weights are shared with F(7x7)
// (WinogradTileKernels.h). This file keeps the maps and the output transform,
// which stores whole 4-float rows straight into y.
//
//===----------------------------------------------------------------------===//
#include "backend/cpu/WinogradTileKernels.h"

#include <algorithm>
#include <vector>

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

/// This tile size for the shared transforms (WinogradTileKernels.h).
struct TilesF4 {
  static constexpr int kAlpha = cpu::kAlpha, kTile = cpu::kTile;
  using Input = InputAxis;
  using Weight = WeightAxis;
  using OutputGrad = OutputGradAxis;
  using WeightGrad = WeightGradAxis;
};

template <class V>
LOCUS_ALWAYS_INLINE void outputTile(const V (&m)[6][6], V (&y)[4][4]) {
  winograd::apply2d<OutputAxis>(m, y);
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

} // namespace

const WinogradTransforms &winogradF4Transforms() {
  static const WinogradTransforms t = winograd::transformsOf<TilesF4>(transformOutputs);
  return t;
}

} // namespace locus::rt::cpu
