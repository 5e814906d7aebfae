//===- WinogradPlan.cpp - when and in what chunks Winograd runs ----------===//
#include "cpu/Winograd.h"

#include <algorithm>

namespace locus::rt::cpu {

namespace {

// Below this many channels on either side the transforms cost more than the
// 2.25x fewer multiplications save (measured: VGG-6's 3-channel first layer).
constexpr int64_t kMinChannels = 16;
// Scratch budgets in floats: transformed weights of an output chunk (8 MiB),
// and inputs plus products of a tile chunk (6 MiB); sized so the per-position
// GEMMs keep >= 64 columns on VGG-6's 1024-channel layers.
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

WinogradPlan winogradPlan(Shape4 xs, int64_t outChannels) {
  WinogradPlan p;
  p.tilesY = ceilDiv(xs.h, 2);
  p.tilesX = ceilDiv(xs.w, 2);
  p.tiles = xs.n * p.tilesY * p.tilesX;
  p.outChunk = evenChunk(outChannels, std::max<int64_t>(16, kWeightFloats / (16 * xs.c)));
  p.tileChunk =
      evenChunk(p.tiles, std::max<int64_t>(64, kTileFloats / (16 * (xs.c + p.outChunk))));
  return p;
}

} // namespace locus::rt::cpu
