//===- WinogradTileWalk.h - reading a chunk's tiles for a transform -*- C++ -*-===//
//
// Shared by the F(4x4) and F(7x7) transforms: zero-padded copies of the maps
// a chunk's tiles read, and the walk that hands 8 tiles at a time to an AVX2
// kernel and the rest to a scalar one.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_BACKEND_CPU_SRC_WINOGRADTILEWALK_H
#define LOCUS_RUNTIME_BACKEND_CPU_SRC_WINOGRADTILEWALK_H

#include "backend/cpu/WinogradTransforms.h"

#include <algorithm>
#include <vector>

namespace locus::rt::cpu {

/// Channel `channel` of samples [n0, n1] of t, each map copied into a
/// rows x cols block of zeros at (lead, lead): a tile's operand then reads
/// 4-float rows at a fixed stride wherever it lies, edges included.
class PaddedMaps {
public:
  PaddedMaps(const float *t, Shape4 s, int64_t channel, int64_t n0, int64_t n1, int64_t lead,
             int64_t rows, int64_t cols, std::vector<float> &buffer)
      : n0(n0), rows(rows), cols(cols) {
    const int64_t block = rows * cols, count = n1 - n0 + 1;
    // The tail covers the widest read past the last row (12 floats).
    if (static_cast<int64_t>(buffer.size()) < count * block + kTail)
      buffer.resize(static_cast<size_t>(count * block + kTail));
    float *out = buffer.data();
    for (int64_t n = n0; n <= n1; ++n) { // each float written once: zeros or the map
      const float *map = t + (n * s.c + channel) * s.h * s.w;
      out = std::fill_n(out, lead * cols, 0.0f);
      for (int64_t y = 0; y < s.h; ++y) {
        out = std::fill_n(out, lead, 0.0f);
        out = std::copy(map + y * s.w, map + (y + 1) * s.w, out);
        out = std::fill_n(out, cols - lead - s.w, 0.0f);
      }
      out = std::fill_n(out, (rows - lead - s.h) * cols, 0.0f);
    }
    std::fill_n(out, kTail, 0.0f);
    base = buffer.data();
  }
  /// Padded row y, column x of sample n.
  const float *at(int64_t n, int64_t y, int64_t x) const {
    return base + ((n - n0) * rows + y) * cols + x;
  }
  int64_t stride() const { return cols; }

private:
  static constexpr int64_t kTail = 12;
  const float *base = nullptr;
  int64_t n0, rows, cols;
};

/// An 8-tile kernel: operands of 8 tiles (rows rowStride apart) to the
/// transformed positions of `lanes` of them at dst.
using TileKernel8 = void (*)(const float *const tiles[8], int64_t rowStride, float *dst,
                             int64_t stride, int64_t lanes, bool spill);
using TileKernel1 = void (*)(const float *tile, int64_t rowStride, float *dst, int64_t stride);

/// Transforms a chunk's tiles of one channel, whose operands start at
/// maps.at(place): 8 at a time with tiles8 (lanes past the chunk's end
/// repeat its last tile and are not stored), the rest with tile1.
inline void transformTiles(const PaddedMaps &maps, const std::vector<TilePlace> &places,
                           TileChunk chunk, TileKernel8 tiles8, TileKernel1 tile1, float *dst,
                           int64_t stride) {
  auto operand = [&](int64_t i) { return maps.at(places[i].n, places[i].y0, places[i].x0); };
  int64_t i = 0;
  if (tiles8)
    for (; i < chunk.count; i += 8) {
      const int64_t lanes = std::min<int64_t>(8, chunk.count - i);
      const float *tiles[8];
      for (int64_t k = 0; k < 8; ++k)
        tiles[k] = operand(i + std::min(k, lanes - 1));
      tiles8(tiles, maps.stride(), dst + i, stride, lanes, /*spill=*/false);
    }
  for (; i < chunk.count; ++i)
    tile1(operand(i), maps.stride(), dst + i, stride);
}

} // namespace locus::rt::cpu

#endif
