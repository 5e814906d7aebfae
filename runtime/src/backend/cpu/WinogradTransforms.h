//===- WinogradTransforms.h - the transforms of one Winograd tile size -*- C++ -*-===//
//
// The drivers (Winograd.cpp) walk chunks and run the per-position GEMMs; the
// transforms into and out of the Winograd domain differ by tile size and live
// in WinogradF2.cpp (2x2 output tiles), WinogradF4.cpp (4x4) and WinogradF7.cpp
// (7x7). Operands in
// scratch are [positions][rows][cols] with WinogradPlan::positionStride
// between positions.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_BACKEND_CPU_SRC_WINOGRADTRANSFORMS_H
#define LOCUS_RUNTIME_BACKEND_CPU_SRC_WINOGRADTRANSFORMS_H

#include "backend/cpu/Winograd.h"

#include <cstddef>
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

/// The five transforms of one tile size. `vector` selects the AVX2 code
/// (WinogradPlan::vector) where a tile size has one; the scalar code gives
/// the same sums.
struct WinogradTransforms {
  /// V[xi][c][i] = (B^T d B)[xi] of tile chunk.first + i, input channel c.
  void (*inputs)(const float *x, Shape4 xs, const std::vector<TilePlace> &places,
                 TileChunk chunk, bool vector, float *v);
  /// U[xi][o][c] = (G g G^T)[xi] for outputs [o0, o0 + count).
  void (*weights)(const float *w, int64_t channels, int64_t o0, int64_t count, bool vector,
                  float *u);
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
                      bool accumulate, bool vector, float *dw);
};

const WinogradTransforms &winogradF2Transforms();
const WinogradTransforms &winogradF4Transforms();
const WinogradTransforms &winogradF7Transforms();

} // namespace locus::rt::cpu

#endif
