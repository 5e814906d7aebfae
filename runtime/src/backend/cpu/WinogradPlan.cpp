//===- WinogradPlan.cpp - when, with which tiles and in what chunks Winograd runs ===//
#include "backend/cpu/Winograd.h"

#include "backend/cpu/Simd.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace locus::rt::cpu {

namespace {

// Below this many channels on either side the transforms cost more than the
// 2.25x fewer multiplications save (measured: VGG-6's 3-channel first layer).
constexpr int64_t kMinChannels = 16;
// Scratch budgets in floats: transformed weights of an output chunk (8 MiB;
// 18 MiB for 7x7 tiles), and inputs plus products of a tile chunk (6 MiB for
// 2x2 tiles' 16 positions, scaled by the positions: larger tiles keep as
// many tiles a chunk, since narrower per-position GEMMs repack the weights
// more often: measured 8-10% of a Fashion-MNIST step); sized so the
// per-position GEMMs keep >= 64 columns on VGG-6's 1024-channel layers.
constexpr int64_t kWeightFloats = int64_t(1) << 21;
constexpr int64_t kTileFloats = int64_t(3) << 19;

int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

/// Splits `total` into the fewest chunks of at most `most`, evenly.
int64_t evenChunk(int64_t total, int64_t most) {
  most = std::max<int64_t>(1, std::min(most, total));
  return ceilDiv(total, ceilDiv(total, most));
}

} // namespace

bool winogradShape(Shape4 xs, const Window &win, int64_t outChannels) {
  return win.kh == 3 && win.kw == 3 && win.sh == 1 && win.sw == 1 && win.pt == 1 &&
         win.pl == 1 && win.pb == 1 && win.pr == 1 && xs.c >= kMinChannels &&
         outChannels >= kMinChannels && xs.n >= 1 && xs.h >= 1 && xs.w >= 1;
}

int64_t winogradTile(Shape4 xs) {
  // LOCUS_CPU_WINOGRAD=2 or =4: the largest tile side allowed (comparisons).
  static const int64_t largest = [] {
    const char *env = std::getenv("LOCUS_CPU_WINOGRAD");
    if (env && std::strcmp(env, "2") == 0)
      return 2;
    if (env && std::strcmp(env, "4") == 0)
      return 4;
    return 7;
  }();
  // Multiplications per channel pair, cropped edge tiles counted in full:
  // (side + 2)^2 per tile. A larger tile's transforms cost more adds per
  // tile, so it must save a fifth over the best smaller one (4x4 against
  // 2x2: 14 x 14 maps 0.73, 8 x 8 0.56, 6 x 6 1.0, 2 x 2 2.25; 7x7 against
  // 4x4: 14 x 14 0.56, 28 x 28 0.73, 32 x 32 0.88, 16 x 16 1.27).
  auto multiplications = [&](int64_t side) {
    return ceilDiv(xs.h, side) * ceilDiv(xs.w, side) * (side + 2) * (side + 2);
  };
  int64_t tile = 2;
  for (int64_t side : {4, 7})
    if (side <= largest && 5 * multiplications(side) <= 4 * multiplications(tile))
      tile = side;
  return tile;
}

WinogradPlan winogradPlan(Shape4 xs, int64_t outChannels) {
  return winogradPlan(xs, outChannels, winogradTile(xs));
}

WinogradPlan winogradPlan(Shape4 xs, int64_t outChannels, int64_t tile) {
  WinogradPlan p;
  p.tile = tile;
  p.tilesY = ceilDiv(xs.h, tile);
  p.tilesX = ceilDiv(xs.w, tile);
  p.tiles = xs.n * p.tilesY * p.tilesX;
  p.vector = useAvx2();
  const int64_t positions = p.positions();
  // 7x7 tiles' 81 positions take the weights' budget of 4x4 tiles' 36: an
  // output chunk holds as many channels (Fashion-MNIST's 256 x 128 in one, so
  // the inputs are transformed once).
  const int64_t weightPositions = std::min<int64_t>(positions, 36);
  p.outChunk =
      evenChunk(outChannels, std::max<int64_t>(16, kWeightFloats / (weightPositions * xs.c)));
  p.tileChunk = evenChunk(
      p.tiles, std::max<int64_t>(64, kTileFloats / (16 * (xs.c + p.outChunk))));
  // (kTileFloats * positions / 16 floats in all: the tile count is the budget's.)
  return p;
}

} // namespace locus::rt::cpu
