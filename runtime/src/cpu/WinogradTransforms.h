//===- WinogradTransforms.h - the transforms of one Winograd tile size -*- C++ -*-===//
//
// The drivers (Winograd.cpp) walk chunks and run the per-position GEMMs; the
// transforms into and out of the Winograd domain differ by tile size and live
// in WinogradF2.cpp (2x2 output tiles) and WinogradF4.cpp (4x4). Operands in
// scratch are [positions][rows][cols] with WinogradPlan::positionStride
// between positions.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_SRC_CPU_WINOGRADTRANSFORMS_H
#define LOCUS_RUNTIME_SRC_CPU_WINOGRADTRANSFORMS_H

#include "cpu/Winograd.h"

#include <algorithm>
#include <vector>

namespace locus::rt::cpu {

/// Tiles [first, first + count) of the batch (numbered sample by sample, row
/// by row); their transforms live in scratch as [positions][rows][count].
struct TileChunk {
  int64_t first = 0, count = 0;
};

/// A tile's place, worked out once per chunk instead of once per channel:
/// its sample, and the top-left corner of its output block.
struct TilePlace {
  int64_t n, y0, x0;
};

inline void placeTiles(const WinogradPlan &p, TileChunk chunk, std::vector<TilePlace> &places) {
  const int64_t perMap = p.tilesY * p.tilesX;
  places.resize(static_cast<size_t>(chunk.count));
  for (int64_t i = 0; i < chunk.count; ++i) {
    const int64_t t = chunk.first + i, r = t % perMap;
    places[i] = {t / perMap, p.tile * (r / p.tilesX), p.tile * (r % p.tilesX)};
  }
}

/// The end of the run of tiles from i on that share a sample and a tile row.
inline int64_t runEnd(const std::vector<TilePlace> &places, int64_t i, int64_t count) {
  int64_t end = i + 1;
  while (end < count && places[end].n == places[i].n && places[end].y0 == places[i].y0)
    ++end;
  return end;
}

/// Copies map rows top .. top + count - 1 into `count` rows of `width`
/// floats at buffer, zero outside the map: column j of a padded row is map
/// column j - lead (lead is 1 for the inputs' padding, 0 for gradients).
inline void padRows(const float *map, int64_t h, int64_t w, int64_t top, int count, int64_t lead,
                    float *buffer, int64_t width, const float **rows) {
  for (int a = 0; a < count; ++a) {
    float *dst = buffer + a * width;
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

/// The five transforms of one tile size. `vector` selects the AVX2 code
/// (WinogradPlan::vector); the scalar code gives the same sums.
struct WinogradTransforms {
  /// V[xi][c][i] = (B^T d B)[xi] of tile chunk.first + i, input channel c.
  void (*inputs)(const float *x, Shape4 xs, const std::vector<TilePlace> &places,
                 TileChunk chunk, bool vector, float *v);
  /// U[xi][o][c] = (G g G^T)[xi] for outputs [o0, o0 + count).
  void (*weights)(const float *w, int64_t channels, int64_t o0, int64_t count, float *u);
  /// y[n][o0 + o] tiles = A^T M A (+ bias), cropped to the map. Leaves the
  /// products it read zero, so the next chunk's GEMMs add to zeros (beta = 1)
  /// instead of clearing their output in a separate pass.
  void (*outputs)(float *m, const std::vector<TilePlace> &places, TileChunk chunk,
                  int64_t o0, int64_t count, const float *bias, bool vector, float *y, Shape4 ys);
  /// P[xi][o][i] = (A dY A^T)[xi] of tile chunk.first + i, outputs [o0, o0 + count).
  void (*outputGrads)(const float *dy, Shape4 ys, const std::vector<TilePlace> &places,
                      TileChunk chunk, int64_t o0, int64_t count, bool vector, float *p);
  /// dw[o0 + o][c] = G^T dU G, or += when accumulating over tile chunks.
  void (*weightGrads)(const float *du, int64_t channels, int64_t o0, int64_t count,
                      bool accumulate, float *dw);
};

const WinogradTransforms &winogradF2Transforms();
const WinogradTransforms &winogradF4Transforms();

} // namespace locus::rt::cpu

#endif
