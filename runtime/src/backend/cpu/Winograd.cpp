//===- Winograd.cpp - 3x3 convolutions by Winograd F(m x m, 3x3) ---------===//
//
// Each m x m output tile of a 3x3 convolution (stride 1, padding 1) is
//   Y = A^T [ (G g G^T) .* (B^T d B) ] A
// for its (m+2) x (m+2) input patch d, so over all tiles and channels the
// convolution becomes (m+2)^2 independent GEMMs, one per position xi of the
// transformed tile: M_xi [O x T] = U_xi [O x C] V_xi [C x T]. The weight
// gradient is the exact adjoint of the same computation:
//   dU_xi [O x C] = P_xi [O x T] V_xi^T,  P = A dY A^T per tile,  dW = G^T dU G.
// This file walks the chunks and runs the GEMMs; the transforms of m = 2 and
// m = 4 and m = 7 are in WinogradF2.cpp, WinogradF4.cpp and WinogradF7.cpp.
//
// The GEMMs of a chunk are spread over the runtime's workers, each one a
// single-threaded SGEMM (Gemm.cpp), so no GEMM is split into thin panels.
//
//===----------------------------------------------------------------------===//
#include "backend/cpu/Winograd.h"

#include "backend/cpu/BroadcastGemm.h"
#include "backend/cpu/Parallel.h"
#include "backend/cpu/WinogradTransforms.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace locus::rt::cpu {

namespace {

/// The scratch regions of one chunk pair.
struct Scratch {
  float *weights, *inputs, *products;
};

Scratch carve(Workspace &ws, int64_t wsFloats, const WinogradPlan &p, int64_t channels) {
  float *base = ws.get(std::max(wsFloats, p.floats(channels)));
  Scratch s;
  s.weights = base;
  s.inputs = s.weights + p.positions() * WinogradPlan::positionStride(p.outChunk, channels);
  s.products = s.inputs + p.positions() * WinogradPlan::positionStride(channels, p.tileChunk);
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

/// Where a chunk pair stands in the walk.
struct PairStep {
  bool freshWeights; ///< the weights' transform in scratch is another chunk's
  bool freshInputs;  ///< likewise the inputs' (always so when the tile chunk changes)
  /// The weight-side scratch already holds this output chunk's sum over
  /// earlier tile chunks (tile chunks inside), so products add to it.
  bool addToWeights;
  /// Its sum over tiles is complete after this pair (always so with tile
  /// chunks outside, where each pair's sum is added to the result instead).
  bool weightsDone;
};

/// Calls body(o0, oc, chunk, step) for every pair of an output chunk
/// [o0, o0 + oc) and a tile chunk, in the cheaper order.
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
      PairStep step;
      step.freshWeights = tilesOut ? innerFresh : outerFresh;
      step.freshInputs = tilesOut ? outerFresh : innerFresh;
      step.addToWeights = !tilesOut && b > 0;
      step.weightsDone = tilesOut || b + innerStep >= innerCount;
      body(o0, oc, chunk, step);
    }
}

const WinogradTransforms &transformsFor(const WinogradPlan &p) {
  return p.tile == 7   ? winogradF7Transforms()
         : p.tile == 4 ? winogradF4Transforms()
                       : winogradF2Transforms();
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
  winogradConv2dForward(winogradPlan(xs, outChannels), x, xs, w, outChannels, b, y, ws,
                        wsFloats);
}

void winogradConv2dForward(const WinogradPlan &p, const float *x, Shape4 xs, const float *w,
                           int64_t outChannels, const float *b, float *y, Workspace &ws,
                           int64_t wsFloats) {
  const WinogradTransforms &t = transformsFor(p);
  const int64_t channels = xs.c;
  const Shape4 ys{xs.n, outChannels, xs.h, xs.w};
  const Scratch s = carve(ws, wsFloats, p, channels);
  std::vector<TilePlace> places;
  // The products start zero and every output transform leaves them so: the
  // GEMMs add to them (beta = 1), which spares OpenBLAS's separate pass that
  // clears C for beta = 0 (measured: 3-4% of a Fashion-MNIST step).
  const int64_t productFloats =
      p.positions() * WinogradPlan::positionStride(p.outChunk, p.tileChunk);
  std::fill(s.products, s.products + productFloats, 0.0f);
  forEachChunkPair(p, outChannels, [&](int64_t o0, int64_t oc, TileChunk chunk, PairStep step) {
    if (step.freshWeights)
      t.weights(w, channels, o0, oc, p.vector, s.weights);
    if (step.freshInputs) { // a new tile chunk, or the inputs' scratch was another's
      placeTiles(p, chunk, places);
      t.inputs(x, xs, places, chunk, p.vector, s.inputs);
    }
    const int64_t uStride = WinogradPlan::positionStride(oc, channels);
    const int64_t vStride = WinogradPlan::positionStride(channels, chunk.count);
    const int64_t mStride = WinogradPlan::positionStride(oc, chunk.count);
    // The weights are the large operand (O x C against C x a tile chunk) and
    // are read once: broadcastGemm reads them in place where OpenBLAS packs
    // them (cpu-kernel-bench, Zen 5, 2 threads, VGG-6's blocks 2-6 forward:
    // 164 -> 150 ms AVX2, 123 -> 110 ms AVX-512; block 6's 32 tiles 30 -> 25
    // ms). The weight gradient's GEMM (O x C outputs over a chunk's tiles)
    // stays with OpenBLAS: the same kernel on V^T packed in 32-column panels
    // was 6% faster with AVX-512 and 3% slower with AVX2 (bench/README).
    const bool broadcast = broadcastGemmVectorised();
    parallelFor(p.positions(), true, [&](int64_t xi) {
      if (broadcast)
        broadcastGemm(oc, chunk.count, channels, s.weights + xi * uStride, channels,
                      s.inputs + xi * vStride, chunk.count, s.products + xi * mStride,
                      chunk.count);
      else
        gemm(false, false, oc, chunk.count, channels, 1.0f, s.weights + xi * uStride,
             s.inputs + xi * vStride, 1.0f, s.products + xi * mStride);
    });
    t.outputs(s.products, places, chunk, o0, oc, b, p.vector, y, ys);
  });
}

void winogradConv2dBackwardWeight(const float *x, Shape4 xs, const float *dy,
                                  int64_t outChannels, float *dw, float *db, Workspace &ws,
                                  int64_t wsFloats) {
  winogradConv2dBackwardWeight(winogradPlan(xs, outChannels), x, xs, dy, outChannels, dw, db,
                               ws, wsFloats);
}

void winogradConv2dBackwardWeight(const WinogradPlan &p, const float *x, Shape4 xs,
                                  const float *dy, int64_t outChannels, float *dw, float *db,
                                  Workspace &ws, int64_t wsFloats) {
  const WinogradTransforms &t = transformsFor(p);
  const int64_t channels = xs.c;
  const Shape4 ys{xs.n, outChannels, xs.h, xs.w};
  const Scratch s = carve(ws, wsFloats, p, channels);
  std::vector<TilePlace> places;
  std::vector<double> dbTotals(db ? static_cast<size_t>(outChannels) : 0, 0.0);
  // dU is linear in the tiles: with tile chunks inside, the GEMMs sum it in
  // scratch and G^T dU G is taken once per output chunk; with tile chunks
  // outside, each pair's G^T dU G is added into dw (the first one stores).
  forEachChunkPair(p, outChannels, [&](int64_t o0, int64_t oc, TileChunk chunk, PairStep step) {
    if (step.freshInputs) {
      placeTiles(p, chunk, places);
      t.inputs(x, xs, places, chunk, p.vector, s.inputs);
    }
    t.outputGrads(dy, ys, places, chunk, o0, oc, p.vector, s.products);
    const int64_t uStride = WinogradPlan::positionStride(oc, channels);
    const int64_t vStride = WinogradPlan::positionStride(channels, chunk.count);
    const int64_t pStride = WinogradPlan::positionStride(oc, chunk.count);
    if (db) { // every (output, tile) pair comes once: the tile sums add up to db
      const float *sums = s.products + p.sumPosition() * pStride;
      parallelFor(oc, oc * chunk.count >= 4096, [&](int64_t o) {
        dbTotals[o0 + o] += sumFloats(sums + o * chunk.count, chunk.count);
      });
    }
    parallelFor(p.positions(), true, [&](int64_t xi) {
      gemm(false, true, oc, channels, chunk.count, 1.0f, s.products + xi * pStride,
           s.inputs + xi * vStride, step.addToWeights ? 1.0f : 0.0f, s.weights + xi * uStride);
    });
    if (step.weightsDone)
      t.weightGrads(s.weights, channels, o0, oc,
                    /*accumulate=*/!step.addToWeights && chunk.first > 0, p.vector, dw);
  });
  for (int64_t o = 0; db && o < outChannels; ++o)
    db[o] = static_cast<float>(dbTotals[o]);
}

} // namespace locus::rt::cpu
