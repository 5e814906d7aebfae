// The CPU layer kernels (convolutions, pooling, relu, triangle, GEMM, AdamW) against plain float64
// reference loops on random inputs: odd sizes, padding, stride 2, non-square windows. Outputs are
// pre-filled with NaN so a kernel that skips an element fails, and NaN never passes a comparison.
#include "locus/runtime/backend/cpu/Kernels.h"

#include "backend/cpu/AdamMath.h"
#include "backend/cpu/BlasSetup.h"
#include "backend/cpu/Blocked.h"
#include "backend/cpu/BroadcastGemm.h"
#include "backend/cpu/DirectConv.h"
#include "backend/cpu/Simd.h"
#include "backend/cpu/StochasticRounding.h"
#include "backend/cpu/Winograd.h"
#include "locus/runtime/backend/cpu/Optimizer.h"

#include "CompiledTables.h"
#include "NumericTestUtil.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <thread>
#include <vector>

using namespace locus::rt::cpu;
using namespace locus::test;

namespace {




#define EXPECT_REL(got, ref, tol) EXPECT_LE(relError(got, ref), tol) << #got " vs " #ref " "

// --- float64 references ----------------------------------------------------------------------

struct ConvCase {
  int64_t n, c, h, w, o;
  Window win;
  std::string name;
};

Window window(int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t pt, int64_t pl, int64_t pb,
              int64_t pr) {
  Window w;
  w.kh = kh, w.kw = kw, w.sh = sh, w.sw = sw, w.pt = pt, w.pl = pl, w.pb = pb, w.pr = pr;
  return w;
}

int64_t outSize(int64_t in, int64_t k, int64_t s, int64_t p0, int64_t p1) {
  return (in + p0 + p1 - k) / s + 1;
}

/// The zero-padded input value, or 0 outside.
double at(const std::vector<float> &x, int64_t c, int64_t h, int64_t w, int64_t n, int64_t ch,
          int64_t y, int64_t xx) {
  if (y < 0 || y >= h || xx < 0 || xx >= w)
    return 0.0;
  return x[((n * c + ch) * h + y) * w + xx];
}

std::vector<double> refConv(const ConvCase &k, const std::vector<float> &x,
                            const std::vector<float> &wt, const std::vector<float> *b) {
  const Window &q = k.win;
  const int64_t oh = outSize(k.h, q.kh, q.sh, q.pt, q.pb), ow = outSize(k.w, q.kw, q.sw, q.pl, q.pr);
  std::vector<double> y(static_cast<size_t>(k.n * k.o * oh * ow));
  for (int64_t n = 0; n < k.n; ++n)
    for (int64_t o = 0; o < k.o; ++o)
      for (int64_t oy = 0; oy < oh; ++oy)
        for (int64_t ox = 0; ox < ow; ++ox) {
          double s = b ? (*b)[o] : 0.0;
          for (int64_t c = 0; c < k.c; ++c)
            for (int64_t i = 0; i < q.kh; ++i)
              for (int64_t j = 0; j < q.kw; ++j)
                s += static_cast<double>(wt[((o * k.c + c) * q.kh + i) * q.kw + j]) *
                     at(x, k.c, k.h, k.w, n, c, oy * q.sh - q.pt + i, ox * q.sw - q.pl + j);
          y[((n * k.o + o) * oh + oy) * ow + ox] = s;
        }
  return y;
}

// dW, db and dx of the convolution for a given dy, straight from the definition.
void refConvBackward(const ConvCase &k, const std::vector<float> &x, const std::vector<float> &wt,
                     const std::vector<float> &dy, std::vector<double> &dw,
                     std::vector<double> &db, std::vector<double> &dx) {
  const Window &q = k.win;
  const int64_t oh = outSize(k.h, q.kh, q.sh, q.pt, q.pb), ow = outSize(k.w, q.kw, q.sw, q.pl, q.pr);
  dw.assign(static_cast<size_t>(k.o * k.c * q.kh * q.kw), 0.0);
  db.assign(static_cast<size_t>(k.o), 0.0);
  dx.assign(static_cast<size_t>(k.n * k.c * k.h * k.w), 0.0);
  for (int64_t n = 0; n < k.n; ++n)
    for (int64_t o = 0; o < k.o; ++o)
      for (int64_t oy = 0; oy < oh; ++oy)
        for (int64_t ox = 0; ox < ow; ++ox) {
          const double g = dy[((n * k.o + o) * oh + oy) * ow + ox];
          db[o] += g;
          for (int64_t c = 0; c < k.c; ++c)
            for (int64_t i = 0; i < q.kh; ++i)
              for (int64_t j = 0; j < q.kw; ++j) {
                const int64_t iy = oy * q.sh - q.pt + i, ix = ox * q.sw - q.pl + j;
                const int64_t wi = ((o * k.c + c) * q.kh + i) * q.kw + j;
                dw[wi] += g * at(x, k.c, k.h, k.w, n, c, iy, ix);
                if (iy >= 0 && iy < k.h && ix >= 0 && ix < k.w)
                  dx[((n * k.c + c) * k.h + iy) * k.w + ix] += g * wt[wi];
              }
        }
}

std::vector<ConvCase> convCases() {
  return {
      {2, 3, 7, 5, 4, window(3, 3, 1, 1, 1, 1, 1, 1), "odd_3x3_pad1"},
      {3, 5, 9, 8, 6, window(3, 3, 2, 2, 1, 1, 1, 1), "stride2_pad1"},
      {2, 4, 6, 7, 3, window(2, 3, 1, 2, 0, 1, 1, 0), "nonsquare_asym_pad"},
      {2, 3, 11, 6, 5, window(5, 3, 2, 1, 2, 0, 1, 1), "kernel5x3_mixed_stride"},
      {3, 6, 5, 5, 7, window(1, 1, 1, 1, 0, 0, 0, 0), "pointwise"},
      {2, 3, 4, 4, 2, window(1, 1, 2, 2, 0, 0, 0, 0), "pointwise_stride2"},
      {5, 3, 3, 3, 4, window(3, 3, 1, 1, 1, 1, 1, 1), "grouped_small_maps"},
      {70, 2, 3, 2, 3, window(3, 3, 1, 1, 1, 1, 1, 1), "grouped_with_remainder"},
      {40, 4, 1, 1, 3, window(1, 1, 1, 1, 0, 0, 0, 0), "grouped_pointwise_1x1_maps"},
      {2, 16, 32, 32, 8, window(3, 3, 1, 1, 1, 1, 1, 1), "large_map_32x32"},
      // Winograd F(2x2, 3x3) (>= 16 channels each side): odd maps end in
      // cropped tiles; the last two split into tile and output-channel chunks.
      {2, 16, 7, 9, 16, window(3, 3, 1, 1, 1, 1, 1, 1), "winograd_odd_map"},
      {3, 32, 4, 4, 48, window(3, 3, 1, 1, 1, 1, 1, 1), "winograd_4x4_map"},
      {4, 16, 1, 1, 16, window(3, 3, 1, 1, 1, 1, 1, 1), "winograd_1x1_map"},
      {2, 16, 2, 3, 20, window(3, 3, 1, 1, 1, 1, 1, 1), "winograd_2x3_map"},
      {8, 16, 44, 44, 16, window(3, 3, 1, 1, 1, 1, 1, 1), "winograd_tile_chunks"},
      {1, 16, 3, 3, 8200, window(3, 3, 1, 1, 1, 1, 1, 1), "winograd_output_chunks"},
      {1, 16, 17, 17, 8200, window(3, 3, 1, 1, 1, 1, 1, 1), "winograd_both_chunked"},
      {2, 21, 6, 7, 18, window(3, 3, 1, 1, 1, 1, 1, 1), "winograd_channels_past_8s"},
      {3, 128, 14, 14, 40, window(3, 3, 1, 1, 1, 1, 1, 1), "winograd_14x14_map"},
      // Direct kernels (< 16 input channels, maps >= 8 wide): a remainder of
      // output channels past the blocks of 4; rows that end in an overlapped
      // vector; the most channels and a map exactly one vector wide.
      {3, 1, 28, 28, 14, window(3, 3, 1, 1, 1, 1, 1, 1), "direct_one_channel"},
      {2, 3, 9, 13, 5, window(3, 3, 1, 1, 1, 1, 1, 1), "direct_three_channels_odd_map"},
      {2, 15, 8, 8, 6, window(3, 3, 1, 1, 1, 1, 1, 1), "direct_fifteen_channels"},
  };
}

void PrintTo(const ConvCase &k, std::ostream *os) { *os << k.name; }

class CpuConv : public ::testing::TestWithParam<ConvCase> {};

/// 1e-4 against float64, or 5e-4 where the case runs Winograd F(7x7, 3x3),
/// whose larger factors round more (WinogradF7.cpp).
double convTolerance(const ConvCase &k) {
  const Shape4 xs{k.n, k.c, k.h, k.w};
  return winogradShape(xs, k.win, k.o) && winogradTile(xs) == 7 ? 5e-4 : 1e-4;
}

TEST_P(CpuConv, ForwardMatchesReference) {
  const ConvCase k = GetParam();
  const Shape4 xs{k.n, k.c, k.h, k.w};
  const Shape4 ys = k.win.outputShape(xs, k.o);
  ASSERT_EQ(ys.h, outSize(k.h, k.win.kh, k.win.sh, k.win.pt, k.win.pb));
  ASSERT_EQ(ys.w, outSize(k.w, k.win.kw, k.win.sw, k.win.pl, k.win.pr));
  const auto x = randomVector(xs.count(), 1);
  const auto w = randomVector(k.o * k.c * k.win.kh * k.win.kw, 2);
  const auto b = randomVector(k.o, 3);
  Workspace ws;
  std::vector<float> y(static_cast<size_t>(ys.count()), kNaN);
  conv2dForward(x.data(), xs, w.data(), k.o, b.data(), k.win, y.data(), ws);
  EXPECT_REL(y, refConv(k, x, w, &b), convTolerance(k));
  // Without bias, and again with the same (now warm) workspace.
  std::fill(y.begin(), y.end(), kNaN);
  conv2dForward(x.data(), xs, w.data(), k.o, nullptr, k.win, y.data(), ws);
  EXPECT_REL(y, refConv(k, x, w, nullptr), convTolerance(k));
}

TEST_P(CpuConv, BackwardMatchesReference) {
  const ConvCase k = GetParam();
  const Shape4 xs{k.n, k.c, k.h, k.w};
  const Shape4 ys = k.win.outputShape(xs, k.o);
  const auto x = randomVector(xs.count(), 4);
  const auto w = randomVector(k.o * k.c * k.win.kh * k.win.kw, 5);
  const auto dy = randomVector(ys.count(), 6);
  std::vector<double> dwRef, dbRef, dxRef;
  refConvBackward(k, x, w, dy, dwRef, dbRef, dxRef);

  Workspace ws;
  std::vector<float> dw(dwRef.size(), kNaN), db(dbRef.size(), kNaN), dx(dxRef.size(), kNaN);
  conv2dBackwardWeight(x.data(), xs, dy.data(), ys, k.win, dw.data(), db.data(), ws);
  EXPECT_REL(dw, dwRef, convTolerance(k));
  EXPECT_REL(db, dbRef, 1e-4);
  std::fill(dw.begin(), dw.end(), kNaN);
  conv2dBackwardWeight(x.data(), xs, dy.data(), ys, k.win, dw.data(), nullptr, ws);
  EXPECT_REL(dw, dwRef, convTolerance(k));

  conv2dBackwardData(dy.data(), ys, w.data(), k.win, dx.data(), xs, ws);
  EXPECT_REL(dx, dxRef, 1e-4);
}

INSTANTIATE_TEST_SUITE_P(Cpu, CpuConv, ::testing::ValuesIn(convCases()),
                         [](const auto &info) { return info.param.name; });

std::vector<ConvCase> winogradCases() {
  std::vector<ConvCase> cases;
  for (const ConvCase &k : convCases())
    if (k.name.rfind("winograd", 0) == 0)
      cases.push_back(k);
  return cases;
}

class WinogradConv : public ::testing::TestWithParam<ConvCase> {};

// Each Winograd case straight through the path with every tile size, the
// AVX2 and the scalar transforms, and the plan's chunks or thirds of the
// output channels and tiles, whichever the plan would pick: against float64.
TEST_P(WinogradConv, TilesTransformsAndChunksMatchReference) {
  const ConvCase k = GetParam();
  const Shape4 xs{k.n, k.c, k.h, k.w};
  ASSERT_TRUE(winogradShape(xs, k.win, k.o));
  const Shape4 ys = k.win.outputShape(xs, k.o);
  const auto x = randomVector(xs.count(), 7);
  const auto w = randomVector(k.o * k.c * 9, 8);
  const auto b = randomVector(k.o, 9);
  const auto dy = randomVector(ys.count(), 10);
  const std::vector<double> yRef = refConv(k, x, w, &b);
  std::vector<double> dwRef, dbRef, dxRef;
  refConvBackward(k, x, w, dy, dwRef, dbRef, dxRef);
  for (int64_t tile : {2, 4, 7})
    for (bool vector : {true, false})
      for (bool thirds : {false, true}) {
        if (vector && !useAvx2())
          continue;
        WinogradPlan p = winogradPlan(xs, k.o, tile);
        p.vector = vector;
        if (thirds) {
          p.outChunk = (k.o + 2) / 3;
          p.tileChunk = (p.tiles + 2) / 3;
        }
        SCOPED_TRACE("F(" + std::to_string(tile) + "x" + std::to_string(tile) + ", 3x3), " +
                     (vector ? "AVX2" : "scalar") + " transforms, " +
                     std::to_string(p.outChunk) + " outputs x " + std::to_string(p.tileChunk) +
                     " tiles a chunk");
        Workspace ws;
        std::vector<float> y(static_cast<size_t>(ys.count()), kNaN);
        winogradConv2dForward(p, x.data(), xs, w.data(), k.o, b.data(), y.data(), ws,
                              p.floats(k.c));
        // F(7x7)'s larger factors round more (WinogradF7.cpp): measured up to
        // 1.5e-4 here (the 128-channel sums of winograd_14x14_map), 4e-6 at best.
        const double tol = tile == 7 ? 5e-4 : 1e-4;
        EXPECT_REL(y, yRef, tol);
        std::vector<float> dw(dwRef.size(), kNaN), db(dbRef.size(), kNaN);
        winogradConv2dBackwardWeight(p, x.data(), xs, dy.data(), k.o, dw.data(), db.data(), ws,
                                     p.floats(k.c));
        EXPECT_REL(dw, dwRef, tol);
        EXPECT_REL(db, dbRef, 1e-4);
      }
}

INSTANTIATE_TEST_SUITE_P(Cpu, WinogradConv, ::testing::ValuesIn(winogradCases()),
                         [](const auto &info) { return info.param.name; });

TEST(CpuConv, WinogradAndDirectCasesTakeThosePaths) {
  const Window same3x3 = window(3, 3, 1, 1, 1, 1, 1, 1);
  for (const ConvCase &k : convCases()) {
    const bool named = k.name.rfind("winograd", 0) == 0;
    EXPECT_EQ(winogradShape({k.n, k.c, k.h, k.w}, k.win, k.o), named) << k.name;
  }
  for (const ConvCase &k : convCases()) {
    const bool named = k.name.rfind("direct", 0) == 0;
    EXPECT_EQ(directConvApplies({k.n, k.c, k.h, k.w}, k.win), named && useAvx2()) << k.name;
  }
  EXPECT_FALSE(winogradShape({2, 3, 32, 32}, same3x3, 128)); // VGG-6's first layer
  EXPECT_EQ(directConvApplies({2, 3, 32, 32}, same3x3), useAvx2()); // ... goes direct
  EXPECT_FALSE(winogradShape({2, 16, 8, 8}, window(3, 3, 2, 2, 1, 1, 1, 1), 16));
  const WinogradPlan tiles = winogradPlan({8, 16, 44, 44}, 16, 2);
  EXPECT_EQ(tiles.tiles, 8 * 22 * 22);
  EXPECT_EQ(winogradPlan({8, 16, 44, 44}, 16, 4).tiles, 8 * 11 * 11);
  EXPECT_LT(tiles.tileChunk, tiles.tiles);
  const WinogradPlan outs = winogradPlan({1, 16, 3, 3}, 8200);
  EXPECT_LT(outs.outChunk, 8200);
  const WinogradPlan both = winogradPlan({1, 16, 17, 17}, 8200, 2);
  EXPECT_LT(both.outChunk, 8200);
  EXPECT_LT(both.tileChunk, both.tiles);
  // A larger tile where it saves a fifth of the multiplications: 7x7 for
  // Fashion-MNIST's 14 x 14 maps (0.56 of 4x4's), 28, 7, and 6 or 5 (one
  // cropped 7x7 tile: 81 against 144 for 2x2); 4x4 for VGG-6's 32 .. 4 (7x7
  // tiles save 12% on 32 x 32 and lose on the rest); 2x2 for 10 x 10 or 9 x 9
  // (4x4: 0.81 of them, 7x7: 0.81), 2 x 2 or 1 x 1 (more).
  for (int64_t side : {14, 28, 7, 6, 5})
    EXPECT_EQ(winogradTile({2, 16, side, side}), 7) << side;
  for (int64_t side : {32, 16, 8, 4, 3})
    EXPECT_EQ(winogradTile({2, 16, side, side}), 4) << side;
  for (int64_t side : {10, 9, 2, 1})
    EXPECT_EQ(winogradTile({2, 16, side, side}), 2) << side;
  // The planned scratch covers the path and the im2col data gradient beside it.
  const Shape4 xs{8, 16, 44, 44};
  EXPECT_GE(conv2dWorkspaceFloats(xs, same3x3, 16), winogradPlan(xs, 16).floats(16));
  EXPECT_GE(conv2dWorkspaceFloats(xs, same3x3, 16), 16 * 9 * 44 * 44);
}

TEST(CpuConv, WindowOutputShapeIsFloorMode) {
  const Shape4 s = window(3, 2, 2, 3, 1, 0, 0, 1).outputShape({4, 3, 10, 11}, 9);
  EXPECT_EQ(s.n, 4);
  EXPECT_EQ(s.c, 9);
  EXPECT_EQ(s.h, (10 + 1 - 3) / 2 + 1);
  EXPECT_EQ(s.w, (11 + 1 - 2) / 3 + 1);
}

TEST(CpuWorkspace, GrowsAndReleases) {
  Workspace ws;
  EXPECT_EQ(ws.bytes(), 0);
  float *p = ws.get(100);
  ASSERT_NE(p, nullptr);
  p[99] = 1.0f;
  EXPECT_GE(ws.bytes(), 400);
  EXPECT_EQ(ws.get(50), p); // a smaller request reuses the buffer
  ws.get(1000);
  EXPECT_GE(ws.bytes(), 4000);
  ws.release();
  EXPECT_EQ(ws.bytes(), 0);
}

// --- pooling ------------------------------------------------------------------------------------

struct PoolCase {
  Shape4 xs;
  Window win;
  std::string name;
};

std::vector<PoolCase> poolCases() {
  return {
      {{2, 3, 8, 8}, window(2, 2, 2, 2, 0, 0, 0, 0), "k2s2"},
      {{2, 3, 7, 9}, window(2, 2, 2, 2, 0, 0, 0, 0), "k2s2_odd_floor"},
      {{2, 2, 10, 9}, window(4, 4, 4, 4, 0, 0, 0, 0), "k4_tiles_floor"},
      {{3, 2, 6, 6}, window(6, 6, 6, 6, 0, 0, 0, 0), "global"},
      {{2, 2, 9, 7}, window(3, 3, 2, 2, 1, 1, 1, 1), "k3s2_pad1"},
      {{2, 3, 8, 9}, window(2, 3, 1, 2, 0, 1, 1, 0), "nonsquare_overlap_asym_pad"},
      {{2, 2, 5, 6}, window(1, 1, 1, 1, 0, 0, 0, 0), "k1"},
      // Rows of >= 8 outputs take the AVX2 path; 14 ends with an overlapping group.
      {{2, 3, 28, 28}, window(2, 2, 2, 2, 0, 0, 0, 0), "k2s2_vector_overlap"},
      {{1, 2, 4, 33}, window(2, 2, 2, 2, 0, 0, 0, 0), "k2s2_vector_odd_floor"},
  };
}

void PrintTo(const PoolCase &k, std::ostream *os) { *os << k.name; }

class CpuPool : public ::testing::TestWithParam<PoolCase> {};

TEST_P(CpuPool, MaxForwardBackwardMatchReference) {
  const PoolCase p = GetParam();
  const Shape4 ys = p.win.outputShape(p.xs, p.xs.c);
  const Window &q = p.win;
  const auto x = randomVector(p.xs.count(), 7);
  const auto dy = randomVector(ys.count(), 8);
  std::vector<double> yRef(static_cast<size_t>(ys.count())), dxRef(p.xs.count(), 0.0);
  for (int64_t pl = 0; pl < p.xs.n * p.xs.c; ++pl)
    for (int64_t oy = 0; oy < ys.h; ++oy)
      for (int64_t ox = 0; ox < ys.w; ++ox) {
        double best = -std::numeric_limits<double>::infinity();
        int64_t arg = -1;
        for (int64_t i = 0; i < q.kh; ++i)
          for (int64_t j = 0; j < q.kw; ++j) {
            const int64_t iy = oy * q.sh - q.pt + i, ix = ox * q.sw - q.pl + j;
            if (iy < 0 || iy >= p.xs.h || ix < 0 || ix >= p.xs.w)
              continue;
            const int64_t idx = (pl * p.xs.h + iy) * p.xs.w + ix;
            if (x[idx] > best) {
              best = x[idx];
              arg = idx;
            }
          }
        const int64_t o = (pl * ys.h + oy) * ys.w + ox;
        yRef[o] = best;
        dxRef[arg] += dy[o];
      }
  std::vector<float> y(yRef.size(), kNaN), dx(dxRef.size(), kNaN);
  std::vector<int32_t> arg(yRef.size(), -1);
  maxPool2dForward(compiledPooling(), x.data(), p.xs, q, y.data(), ys, arg.data());
  EXPECT_REL(y, yRef, 1e-6);
  for (size_t i = 0; i < arg.size(); ++i) {
    ASSERT_GE(arg[i], 0);
    ASSERT_LT(arg[i], p.xs.count());
    EXPECT_EQ(x[arg[i]], y[i]);
  }
  maxPool2dBackward(compiledPooling(), dy.data(), ys, arg.data(), dx.data(), p.xs);
  EXPECT_REL(dx, dxRef, 1e-6);
}

TEST_P(CpuPool, AvgForwardBackwardMatchReference) {
  const PoolCase p = GetParam();
  const Shape4 ys = p.win.outputShape(p.xs, p.xs.c);
  const Window &q = p.win;
  const auto x = randomVector(p.xs.count(), 9);
  const auto dy = randomVector(ys.count(), 10);
  std::vector<double> yRef(static_cast<size_t>(ys.count())), dxRef(p.xs.count(), 0.0);
  const double div = static_cast<double>(q.kh * q.kw);
  for (int64_t pl = 0; pl < p.xs.n * p.xs.c; ++pl)
    for (int64_t oy = 0; oy < ys.h; ++oy)
      for (int64_t ox = 0; ox < ys.w; ++ox) {
        const int64_t o = (pl * ys.h + oy) * ys.w + ox;
        double s = 0.0;
        for (int64_t i = 0; i < q.kh; ++i)
          for (int64_t j = 0; j < q.kw; ++j) {
            const int64_t iy = oy * q.sh - q.pt + i, ix = ox * q.sw - q.pl + j;
            if (iy < 0 || iy >= p.xs.h || ix < 0 || ix >= p.xs.w)
              continue; // padding: zero value, still in the divisor
            const int64_t idx = (pl * p.xs.h + iy) * p.xs.w + ix;
            s += x[idx];
            dxRef[idx] += dy[o] / div;
          }
        yRef[o] = s / div;
      }
  std::vector<float> y(yRef.size(), kNaN), dx(dxRef.size(), kNaN);
  avgPool2dForward(compiledPooling(), x.data(), p.xs, q, y.data(), ys);
  EXPECT_REL(y, yRef, 1e-5);
  avgPool2dBackward(compiledPooling(), dy.data(), ys, q, dx.data(), p.xs);
  EXPECT_REL(dx, dxRef, 1e-5);
}

INSTANTIATE_TEST_SUITE_P(Cpu, CpuPool, ::testing::ValuesIn(poolCases()),
                         [](const auto &info) { return info.param.name; });

TEST(CpuPool, MaxPoolTiesTakeTheFirstElement) {
  const Shape4 xs{1, 1, 2, 4};
  const std::vector<float> x = {1, 3, 2, 2, 3, 3, 2, 2};
  std::vector<float> y(2, kNaN);
  std::vector<int32_t> arg(2, -1);
  maxPool2dForward(compiledPooling(), x.data(), xs, window(2, 2, 2, 2, 0, 0, 0, 0), y.data(), {1, 1, 1, 2},
                   arg.data());
  EXPECT_EQ(y[0], 3.0f);
  EXPECT_EQ(arg[0], 1);
  EXPECT_EQ(y[1], 2.0f);
  EXPECT_EQ(arg[1], 2);
}

TEST(CpuPool, MaxPoolVectorRowsKeepTiesAndNaNs) {
  // Values from {0, 1, 2} tie often; NaN wins and a later NaN moves the arg-max
  // (the scalar rule, `v > best || isnan(v)` in window order).
  const Shape4 xs{1, 2, 2, 24};
  std::vector<float> x(static_cast<size_t>(xs.count()));
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = static_cast<float>((i * 7 + i / 5) % 3);
  for (size_t i : {3u, 30u, 31u, 54u, 77u, 78u})
    x[i] = kNaN;
  const Shape4 ys{1, 2, 1, 12};
  for (bool relu : {false, true}) {
    std::vector<float> y(12 * 2, -1.0f);
    std::vector<int32_t> arg(12 * 2, -1);
    if (relu)
      reluMaxPool2dForward(compiledPooling(), x.data(), xs, window(2, 2, 2, 2, 0, 0, 0, 0), y.data(), ys, arg.data());
    else
      maxPool2dForward(compiledPooling(), x.data(), xs, window(2, 2, 2, 2, 0, 0, 0, 0), y.data(), ys, arg.data());
    for (int64_t pl = 0; pl < 2; ++pl)
      for (int64_t ox = 0; ox < 12; ++ox) {
        const int64_t first = pl * 48 + 2 * ox;
        int64_t at = first;
        for (int64_t cand : {first + 1, first + 24, first + 25})
          if (x[cand] > x[at] || std::isnan(x[cand]))
            at = cand;
        const float best = x[at];
        const float want = relu ? (best > 0.0f ? best : 0.0f) : best;
        const int64_t o = pl * 12 + ox;
        EXPECT_EQ(arg[o], at) << "relu " << relu << " output " << o;
        if (std::isnan(want))
          EXPECT_TRUE(std::isnan(y[o])) << "output " << o;
        else
          EXPECT_EQ(y[o], want) << "relu " << relu << " output " << o;
      }
  }
}

TEST(CpuPool, LargeTiledPoolsMatchReference) {
  // Big enough to take the threaded paths; the loss-pooling shape of VGG-6 block 1 at CIFAR size.
  const Shape4 xs{4, 16, 32, 32};
  const Window q = window(4, 4, 4, 4, 0, 0, 0, 0);
  const Shape4 ys = q.outputShape(xs, xs.c);
  const auto x = randomVector(xs.count(), 11);
  std::vector<double> ref(static_cast<size_t>(ys.count()), 0.0);
  for (int64_t pl = 0; pl < xs.n * xs.c; ++pl)
    for (int64_t iy = 0; iy < 32; ++iy)
      for (int64_t ix = 0; ix < 32; ++ix)
        ref[(pl * 8 + iy / 4) * 8 + ix / 4] += x[(pl * 32 + iy) * 32 + ix] / 16.0;
  std::vector<float> y(ref.size(), kNaN);
  avgPool2dForward(compiledPooling(), x.data(), xs, q, y.data(), ys);
  EXPECT_REL(y, ref, 1e-5);
}

TEST_P(CpuPool, FusedReluEpiloguesEqualTheComposition) {
  const PoolCase p = GetParam();
  const Shape4 hs = p.win.outputShape(p.xs, p.xs.c);
  // Shifted so that many windows are entirely negative.
  const auto a = randomVector(p.xs.count(), 21, -1.5f, 0.7f);
  const auto dh = randomVector(hs.count(), 22);
  std::vector<float> r(a.size(), kNaN), h(hs.count(), kNaN), dr(a.size(), kNaN),
      da(a.size(), kNaN);
  std::vector<int32_t> arg(hs.count(), -1);
  reluForward(compiledActivations(), a.data(), r.data(), p.xs.count());
  maxPool2dForward(compiledPooling(), r.data(), p.xs, p.win, h.data(), hs, arg.data());
  maxPool2dBackward(compiledPooling(), dh.data(), hs, arg.data(), dr.data(), p.xs);
  reluBackward(compiledActivations(), r.data(), dr.data(), da.data(), p.xs.count());

  std::vector<float> hf(hs.count(), kNaN), daf(a.size(), kNaN);
  std::vector<int32_t> argf(hs.count(), -1);
  reluMaxPool2dForward(compiledPooling(), a.data(), p.xs, p.win, hf.data(), hs, argf.data());
  EXPECT_EQ(hf, h);
  reluMaxPool2dBackward(compiledPooling(), dh.data(), hf.data(), hs, argf.data(), daf.data(), p.xs);
  EXPECT_EQ(daf, da);

  // avgpool^T then relu' in one pass, with y = relu(a) shaped like the pool input.
  const auto dy = randomVector(hs.count(), 23);
  std::vector<float> dx(a.size(), kNaN), dxf(a.size(), kNaN);
  avgPool2dBackward(compiledPooling(), dy.data(), hs, p.win, dx.data(), p.xs);
  reluBackward(compiledActivations(), r.data(), dx.data(), dx.data(), p.xs.count());
  avgPool2dReluBackward(compiledPooling(), dy.data(), hs, p.win, r.data(), dxf.data(), p.xs);
  EXPECT_EQ(dxf, dx);
}

// --- relu, triangle, gemm -----------------------------------------------------------------------

TEST(CpuRelu, ForwardBackwardWithReluPrimeZeroAtZero) {
  auto x = randomVector(100003, 12);
  for (int i = 0; i < 100; ++i)
    x[i * 997] = 0.0f;
  const auto dy = randomVector(x.size(), 13);
  std::vector<float> y(x.size(), kNaN), dx(x.size(), kNaN);
  reluForward(compiledActivations(), x.data(), y.data(), static_cast<int64_t>(x.size()));
  reluBackward(compiledActivations(), y.data(), dy.data(), dx.data(), static_cast<int64_t>(x.size()));
  for (size_t i = 0; i < x.size(); ++i) {
    ASSERT_EQ(y[i], x[i] > 0 ? x[i] : 0.0f);
    ASSERT_EQ(dx[i], x[i] > 0 ? dy[i] : 0.0f) << "at " << i << " x=" << x[i];
  }
  // In place (dx aliases dy).
  std::vector<float> inPlace = dy;
  reluBackward(compiledActivations(), y.data(), inPlace.data(), inPlace.data(), static_cast<int64_t>(x.size()));
  EXPECT_EQ(inPlace, dx);
}

TEST(CpuRelu, KernelsMayRunFromSeveralThreadsAtOnce) {
  // Large enough for the runtime's worker threads; three callers share them.
  const auto x = randomVector(1 << 18, 24);
  std::vector<float> expected(x.size());
  for (size_t i = 0; i < x.size(); ++i)
    expected[i] = x[i] > 0 ? x[i] : 0.0f;
  std::vector<std::vector<float>> out(3, std::vector<float>(x.size()));
  std::vector<int> mismatches(3, 0);
  std::vector<std::thread> callers;
  for (int t = 0; t < 3; ++t)
    callers.emplace_back([&, t] {
      for (int rep = 0; rep < 20; ++rep) {
        std::fill(out[t].begin(), out[t].end(), kNaN);
        reluForward(compiledActivations(), x.data(), out[t].data(), static_cast<int64_t>(x.size()));
        mismatches[t] += out[t] != expected;
      }
    });
  for (std::thread &c : callers)
    c.join();
  EXPECT_EQ(mismatches, std::vector<int>(3, 0));
}

TEST(CpuTriangle, ForwardBackwardMatchReference) {
  for (const Shape4 xs : {Shape4{3, 5, 3, 4}, Shape4{4, 32, 16, 16}}) {
    const auto x = randomVector(xs.count(), 14);
    const auto dy = randomVector(xs.count(), 15);
    const int64_t c = xs.c, p = xs.plane();
    std::vector<double> yRef(x.size()), dxRef(x.size(), 0.0);
    for (int64_t n = 0; n < xs.n; ++n)
      for (int64_t q = 0; q < p; ++q) {
        double mean = 0.0;
        for (int64_t ch = 0; ch < c; ++ch)
          mean += x[(n * c + ch) * p + q];
        mean /= static_cast<double>(c);
        // Jacobian: dy_c/dx_c' = 1[x_c > mean] (delta_cc' - 1/C).
        for (int64_t ch = 0; ch < c; ++ch) {
          const int64_t i = (n * c + ch) * p + q;
          const bool on = x[i] - mean > 0.0;
          yRef[i] = on ? x[i] - mean : 0.0;
          if (!on)
            continue;
          for (int64_t ch2 = 0; ch2 < c; ++ch2)
            dxRef[(n * c + ch2) * p + q] += dy[i] * ((ch2 == ch ? 1.0 : 0.0) - 1.0 / c);
        }
      }
    std::vector<float> y(x.size(), kNaN), dx(x.size(), kNaN);
    triangleForward(compiledActivations(), x.data(), xs, y.data());
    EXPECT_REL(y, yRef, 1e-5);
    triangleBackward(compiledActivations(), x.data(), xs, dy.data(), dx.data());
    EXPECT_REL(dx, dxRef, 1e-5);
  }
}

TEST(CpuGemm, AllTransposesAndBeta) {
  const int64_t m = 13, n = 17, k = 29;
  const auto a = randomVector(m * k, 16), b = randomVector(k * n, 17), c0 = randomVector(m * n, 18);
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (float beta : {0.0f, 0.5f}) {
        std::vector<double> ref(static_cast<size_t>(m * n));
        for (int64_t i = 0; i < m; ++i)
          for (int64_t j = 0; j < n; ++j) {
            double s = 0.0;
            for (int64_t l = 0; l < k; ++l)
              s += static_cast<double>(ta ? a[l * m + i] : a[i * k + l]) *
                   (tb ? b[j * k + l] : b[l * n + j]);
            ref[i * n + j] = 1.5 * s + beta * c0[i * n + j];
          }
        // beta = 0 must not read C: start from NaN.
        std::vector<float> c = beta == 0.0f ? std::vector<float>(m * n, kNaN) : c0;
        gemm(ta, tb, m, n, k, 1.5f, a.data(), b.data(), beta, c.data());
        EXPECT_REL(c, ref, 1e-5) << "transA=" << ta << " transB=" << tb << " beta=" << beta;
      }
}

// --- AdamW --------------------------------------------------------------------------------------

TEST(CpuAdamW, MatchesTheFormulaOverSteps) {
  const int64_t count = 100003; // odd: the vector loop's tail runs too
  for (double wd : {0.0, 0.05}) {
    AdamW opt;
    opt.lr = 1e-2;
    opt.weightDecay = wd;
    auto p = randomVector(count, 19);
    std::vector<float> m(count, 0.0f), v(count, 0.0f);
    std::vector<double> pr(p.begin(), p.end()), mr(count, 0.0), vr(count, 0.0);
    for (int64_t t = 1; t <= 5; ++t) {
      const auto g = randomVector(count, 100 + static_cast<uint32_t>(t), -2.0f, 2.0f);
      adamwStep(compiledUpdates(), opt, t, count, p.data(), g.data(), m.data(), v.data());
      const double bc1 = 1.0 - std::pow(opt.beta1, t), bc2 = 1.0 - std::pow(opt.beta2, t);
      for (int64_t i = 0; i < count; ++i) {
        pr[i] -= opt.lr * wd * pr[i];
        mr[i] = opt.beta1 * mr[i] + (1.0 - opt.beta1) * g[i];
        vr[i] = opt.beta2 * vr[i] + (1.0 - opt.beta2) * g[i] * g[i];
        pr[i] -= opt.lr * (mr[i] / bc1) / (std::sqrt(vr[i] / bc2) + opt.eps);
      }
      EXPECT_REL(p, pr, 1e-5) << "step " << t << " wd " << wd;
      EXPECT_REL(m, mr, 1e-5);
      EXPECT_REL(v, vr, 1e-5);
    }
  }
}

TEST(CpuAdamW, FirstStepMovesEachParameterByLr) {
  // With m = v = 0 the first bias-corrected step is lr * g / (|g| + eps): lr * sign(g).
  AdamW opt;
  std::vector<float> p = {1.0f, -2.0f, 0.5f}, g = {0.3f, -4.0f, 1e-3f}, m(3, 0.0f), v(3, 0.0f);
  adamwStep(compiledUpdates(), opt, 1, 3, p.data(), g.data(), m.data(), v.data());
  EXPECT_NEAR(p[0], 1.0f - 2e-4f, 1e-7);
  EXPECT_NEAR(p[1], -2.0f + 2e-4f, 1e-7);
  EXPECT_NEAR(p[2], 0.5f - 2e-4f, 1e-7);
}

// --- bfloat16 moments ---------------------------------------------------------------------------

float bf16Value(uint16_t bits) { return widen(BFloat16{bits}); }

#if defined(LOCUS_HAVE_X86)
LOCUS_AVX2 void roundStochasticVector(BFloat16 *dst, const float *src, uint32_t key,
                                      uint32_t index) {
  roundStochastic8(dst, _mm256_loadu_ps(src), key, index);
}
#endif

TEST(CpuStochasticRounding, IsUnbiasedAndTheSameInScalarAndVectorCode) {
  // 1 + 0.3 ulp of bfloat16 (ulp = 2^-7 on [1, 2)): rounds up 30% of the time.
  const float ulp = 1.0f / 128.0f, x = 1.0f + 0.3f * ulp;
  const int64_t count = 1 << 16;
  double sum = 0.0;
  int64_t up = 0;
  for (int64_t i = 0; i < count; ++i) {
    const float r = widen(roundStochastic(x, 12345u, static_cast<uint32_t>(i)));
    ASSERT_TRUE(r == 1.0f || r == 1.0f + ulp) << r;
    up += r > 1.0f;
    sum += r;
  }
  // Binomial: 0.3 of 65536 with a standard deviation of 117.
  EXPECT_NEAR(double(up), 0.3 * count, 600.0);
  EXPECT_NEAR(sum / count, double(x), 1e-4);
  // Exact values stay exact; negative values round in magnitude.
  EXPECT_EQ(widen(roundStochastic(-2.5f, 7u, 3u)), -2.5f);
  EXPECT_EQ(widen(roundStochastic(0.0f, 7u, 3u)), 0.0f);
#if defined(LOCUS_HAVE_X86)
  if (!useAvx2())
    GTEST_SKIP() << "no AVX2 on this CPU: the vector rounding is not used";
  const auto values = randomVector(64, 77, -3.0f, 3.0f);
  std::vector<BFloat16> vec(64);
  for (int64_t i = 0; i < 64; i += 8)
    roundStochasticVector(vec.data() + i, values.data() + i, 99u,
                          static_cast<uint32_t>(1000 + i));
  for (int64_t i = 0; i < 64; ++i)
    EXPECT_EQ(vec[i].bits, roundStochastic(values[i], 99u, static_cast<uint32_t>(1000 + i)).bits)
        << "element " << i;
#endif
}

TEST(CpuAdamW, Bf16SecondMomentTracksFloat32WhereRoundToNearestStalls) {
  // v starts at 1 with g^2 = 2: each step moves v by (1 - b2)(2 - v) <= 0.001,
  // under bfloat16's half-ulp of 2^-8 at 1. Round-to-nearest would keep v = 1.
  const int64_t count = 16387; // the vector loop and its tail
  const float g0 = std::sqrt(2.0f);
  AdamW opt;
  std::vector<float> p(count, 0.0f), g(count, g0);
  std::vector<BFloat16> m(count, BFloat16{0x3FB5}), v(count, BFloat16{0x3F80}); // m ~ g0, v = 1
  AdamMoments moments;
  moments.mBf16 = m.data();
  moments.vBf16 = v.data();
  moments.stream = 5;
  float nearest = 1.0f; // round-to-nearest bfloat16 of the same recurrence
  double exact = 1.0;
  const int steps = 1000;
  for (int t = 1; t <= steps; ++t) {
    adamwStep(compiledUpdates(), opt, t, count, p.data(), g.data(), moments);
    const float next = nearest * float(opt.beta2) + float(1.0 - opt.beta2) * 2.0f;
    uint32_t bits;
    std::memcpy(&bits, &next, sizeof bits);
    bits = (bits + 0x7FFFu + ((bits >> 16) & 1u)) & 0xFFFF0000u;
    std::memcpy(&nearest, &bits, sizeof bits);
    exact = exact * opt.beta2 + (1.0 - opt.beta2) * 2.0;
  }
  EXPECT_EQ(nearest, 1.0f) << "the premise: round-to-nearest stalls";
  // Each stored v carries rounding noise of up to half an ulp (2^-8), which
  // the recurrence keeps for ~1 / (1 - b2) steps: a spread of about
  // 2^-8 / sqrt(2 (1 - b2)) = 0.09 per element, and none in the mean.
  double mean = 0.0, sq = 0.0;
  for (const BFloat16 &x : v) {
    const double vi = bf16Value(x.bits);
    mean += vi;
    sq += (vi - exact) * (vi - exact);
  }
  mean /= count;
  const double spread = std::sqrt(sq / count);
  EXPECT_NEAR(mean, exact, 4.0 * 0.09 / std::sqrt(double(count))) << "spread " << spread;
  EXPECT_LT(spread, 0.09);
  EXPECT_GT(spread, 0.0);
}

TEST(CpuAdamW, Bf16MomentsFollowTheFloat32StepWithinTheirPrecision) {
  // Fused (rank-k gradient, Blocked.cpp) and plain steps, bfloat16 moments,
  // against float32 moments over 20 steps of random gradients.
  const int64_t rows = 100, cols = 1100, k = 6, count = rows * cols;
  AdamW opt;
  opt.lr = 1e-2;
  opt.weightDecay = 0.01;
  auto pRef = randomVector(count, 5);
  auto pPlain = pRef, pFused = pRef;
  std::vector<float> mRef(count, 0.0f), vRef(count, 0.0f), g(count);
  std::vector<BFloat16> mPlain(count, BFloat16{0}), vPlain(count, BFloat16{0}),
      mFused(count, BFloat16{0}), vFused(count, BFloat16{0});
  AdamMoments plain, fused;
  plain.mBf16 = mPlain.data();
  plain.vBf16 = vPlain.data();
  fused.mBf16 = mFused.data();
  fused.vBf16 = vFused.data();
  plain.stream = fused.stream = 3;
  for (int64_t t = 1; t <= 20; ++t) {
    const auto a = randomVector(k * rows, 10 + static_cast<uint32_t>(t));
    const auto b = randomVector(k * cols, 20 + static_cast<uint32_t>(t));
    gemm(true, false, rows, cols, k, 1.0f, a.data(), b.data(), 0.0f, g.data());
    adamwStep(compiledUpdates(), opt, t, count, pRef.data(), g.data(), mRef.data(), vRef.data());
    adamwStep(compiledUpdates(), opt, t, count, pPlain.data(), g.data(), plain);
    adamwStepOuterProduct(opt, t, rows, cols, k, a.data(), b.data(), pFused.data(), fused);
  }
  // Each step moves p by up to lr; the moments' rounding noise (a few bfloat16
  // ulps, measured against their root mean square since m crosses 0) moves it
  // by a few percent of that. Measured: 0.13 lr in the worst of 110000
  // elements after 20 steps that moved p by up to 17.6 lr; m and v 0.05 rms.
  double worstPlain = 0.0, worstFused = 0.0, moved = 0.0, mSq = 0.0, vSq = 0.0, dm = 0.0,
         dv = 0.0;
  const auto p0 = randomVector(count, 5);
  for (int64_t i = 0; i < count; ++i) {
    worstPlain = std::max(worstPlain, double(std::fabs(pPlain[i] - pRef[i])));
    worstFused = std::max(worstFused, double(std::fabs(pFused[i] - pRef[i])));
    moved = std::max(moved, double(std::fabs(pRef[i] - p0[i])));
    mSq += double(mRef[i]) * mRef[i];
    vSq += double(vRef[i]) * vRef[i];
    dm = std::max({dm, std::fabs(bf16Value(mPlain[i].bits) - double(mRef[i])),
                   std::fabs(bf16Value(mFused[i].bits) - double(mRef[i]))});
    dv = std::max({dv, std::fabs(bf16Value(vPlain[i].bits) - double(vRef[i])),
                   std::fabs(bf16Value(vFused[i].bits) - double(vRef[i]))});
  }
  const double mRms = std::sqrt(mSq / count), vRms = std::sqrt(vSq / count);
  EXPECT_GT(moved, 10.0 * opt.lr);
  EXPECT_LT(worstPlain, 0.25 * opt.lr);
  EXPECT_LT(worstFused, 0.25 * opt.lr);
  EXPECT_LT(dm, 0.1 * mRms);
  EXPECT_LT(dv, 0.1 * vRms);
}

} // namespace

// A DYNAMIC_ARCH OpenBLAS that does not know the CPU falls back to SSE3
// kernels (Debian 12's 0.3.21 on Emerald Rapids: "Prescott"); the runtime must
// then have asked for the AVX2 or AVX-512 ones before its first GEMM.
TEST(CpuBlas, RunsWideKernelsOnACpuWithAvx2) {
  std::vector<float> a(64 * 64, 1.0f), b(64 * 64, 1.0f), c(64 * 64);
  gemm(false, false, 64, 64, 64, 1.0f, a.data(), b.data(), 0.0f, c.data());
  EXPECT_EQ(c[0], 64.0f);
  const BlasSetup &setup = blasSetup();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (!avx2 || setup.userChoice)
    GTEST_SKIP() << "no AVX2 here, or the user chose the kernels: " << setup.describe();
  EXPECT_TRUE(hasWideKernels(setup.core)) << setup.describe();
  EXPECT_FALSE(setup.slow) << setup.describe();
  EXPECT_EQ(setup.overridden, setup.core != setup.detectedCore);
  std::printf("%s\n", setup.describe().c_str());
}

// The AVX-512 outer-product tiles (B's fused AdamW, dL/dB = a^T b) sum every
// lane in the AVX2 tiles' order and round bfloat16 moments with the same bits:
// the results are the same bits. Shapes with
// every column case: 32-column pairs, a lone 16-column tile, a scalar tail.
TEST(CpuBlocked, Avx512OuterProductEqualsAvx2BitForBit) {
  if (cpuSimdLevel() != SimdLevel::Avx512)
    GTEST_SKIP() << "this CPU has no AVX-512";
  struct Size {
    int64_t rows, cols, k;
  };
  for (Size sz : {Size{13, 53, 7}, Size{100, 1100, 32}, Size{6, 16, 1}}) {
    const std::vector<float> a = randomVector(sz.k * sz.rows, 7),
                             b = randomVector(sz.k * sz.cols, 8),
                             init = randomVector(sz.rows * sz.cols, 9);
    struct Result {
      std::vector<float> stored, accumulated, param, m, v, paramBf16;
      std::vector<BFloat16> mBf16, vBf16;
    };
    auto run = [&](SimdLevel level) {
      limitSimdForTesting(level);
      Result r;
      r.stored.assign(init.size(), 0.0f);
      outerProduct(sz.rows, sz.cols, sz.k, a.data(), b.data(), false, r.stored.data());
      r.accumulated = init;
      outerProduct(sz.rows, sz.cols, sz.k, a.data(), b.data(), true, r.accumulated.data());
      AdamW opt;
      opt.lr = 1e-2;
      r.param = init;
      r.m.assign(init.size(), 0.1f);
      r.v.assign(init.size(), 0.2f);
      AdamMoments f32;
      f32.m = r.m.data();
      f32.v = r.v.data();
      adamwOuterProduct(opt, 3, sz.rows, sz.cols, sz.k, a.data(), b.data(), r.param.data(), f32);
      r.paramBf16 = init;
      std::vector<BFloat16> mb(init.size(), BFloat16{0x3dcd}), vb(init.size(), BFloat16{0x3e4d});
      AdamMoments bf16;
      bf16.mBf16 = mb.data();
      bf16.vBf16 = vb.data();
      bf16.stream = 11;
      adamwOuterProduct(opt, 3, sz.rows, sz.cols, sz.k, a.data(), b.data(), r.paramBf16.data(),
                        bf16);
      r.mBf16 = mb;
      r.vBf16 = vb;
      limitSimdForTesting(SimdLevel::Avx512);
      return r;
    };
    Result wide = run(SimdLevel::Avx512), narrow = run(SimdLevel::Avx2);
    auto same = [](const std::vector<float> &x, const std::vector<float> &y) {
      return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * 4) == 0;
    };
    EXPECT_TRUE(same(wide.stored, narrow.stored)) << sz.rows << "x" << sz.cols;
    EXPECT_TRUE(same(wide.accumulated, narrow.accumulated)) << sz.rows << "x" << sz.cols;
    EXPECT_TRUE(same(wide.param, narrow.param)) << sz.rows << "x" << sz.cols;
    EXPECT_TRUE(same(wide.m, narrow.m) && same(wide.v, narrow.v)) << sz.rows << "x" << sz.cols;
    EXPECT_TRUE(same(wide.paramBf16, narrow.paramBf16)) << sz.rows << "x" << sz.cols;
    // bfloat16 moments: the same stochastic rounding bits 16 lanes wide.
    auto sameBf16 = [](const std::vector<BFloat16> &x, const std::vector<BFloat16> &y) {
      return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * 2) == 0;
    };
    EXPECT_TRUE(sameBf16(wide.mBf16, narrow.mBf16) && sameBf16(wide.vBf16, narrow.vBf16))
        << sz.rows << "x" << sz.cols;
    EXPECT_FALSE(same(wide.param, init)) << "the step changed nothing";
  }
}

/// The SIMD levels this CPU runs, scalar first (the levels a test compares).
static std::vector<SimdLevel> simdLevelsOfThisCpu() {
  std::vector<SimdLevel> levels{SimdLevel::Baseline};
  if (cpuSimdLevel() >= SimdLevel::Avx2)
    levels.push_back(SimdLevel::Avx2);
  if (cpuSimdLevel() == SimdLevel::Avx512)
    levels.push_back(SimdLevel::Avx512);
  return levels;
}

// Late in a run beta2's bias correction rounds to 1 and the vector updates
// skip dividing by it (AdamMath.h: bc2Unit): exact, since x / 1 == x. The
// same coefficients with the flag cleared (the division done) must give the
// same bits, 8 and 16 lanes wide.
#if defined(LOCUS_HAVE_X86)
LOCUS_AVX2 void adam8(const AdamCoefficients &k, const float *g, float *p, float *m, float *v) {
  for (int i = 0; i < 64; i += 8)
    adamVector(k, _mm256_loadu_ps(g + i), p + i, m + i, v + i, i);
}
LOCUS_AVX512 void adam16(const AdamCoefficients &k, const float *g, float *p, float *m,
                         float *v) {
  for (int i = 0; i < 64; i += 16)
    adamVector16(k, _mm512_loadu_ps(g + i), p + i, m + i, v + i, i);
}

TEST(CpuAdamW, SkippingAUnitBiasCorrectionIsExact) {
  if (cpuSimdLevel() < SimdLevel::Avx2)
    GTEST_SKIP() << "this CPU has no AVX2";
  AdamW opt;
  opt.lr = 1e-2;
  opt.weightDecay = 0.1;
  EXPECT_FALSE(adamCoefficients(opt, 3).bc2Unit);
  const AdamCoefficients late = adamCoefficients(opt, 20000);
  ASSERT_TRUE(late.bc2Unit);
  AdamCoefficients dividing = late;
  dividing.bc2Unit = false;
  const std::vector<float> g = randomVector(64, 9), p0 = randomVector(64, 10),
                           m0 = randomVector(64, 11), v0 = randomVector(64, 12, 0.0f, 1e-3f);
  auto run = [&](const AdamCoefficients &k, bool wide) {
    std::vector<float> p = p0, m = m0, v = v0;
    if (wide)
      adam16(k, g.data(), p.data(), m.data(), v.data());
    else
      adam8(k, g.data(), p.data(), m.data(), v.data());
    p.insert(p.end(), m.begin(), m.end());
    p.insert(p.end(), v.begin(), v.end());
    return p;
  };
  for (bool wide : {false, true}) {
    if (wide && cpuSimdLevel() != SimdLevel::Avx512)
      continue;
    const std::vector<float> skipped = run(late, wide), divided = run(dividing, wide);
    EXPECT_EQ(std::memcmp(skipped.data(), divided.data(), skipped.size() * sizeof(float)), 0)
        << (wide ? "16" : "8") << " lanes";
    EXPECT_NE(std::memcmp(skipped.data(), p0.data(), 64 * sizeof(float)), 0) << "no step taken";
  }
}
#endif

// c += a b (broadcastGemm) at every SIMD level the CPU has, against float64,
// and the same bits at every level (each element is one chain of fused
// multiply-adds over k a chunk): row tails of a (1 to 5 rows), partial panels
// of b (1, 7, 17, 40 columns: AVX2's masked tile, AVX-512's pairs and
// singles), several chunks of k, leading dimensions wider than the rows, and
// c's prior values kept.
TEST(CpuBlocked, BroadcastGemmMatchesFloat64AndItselfAtEverySimdLevel) {
  struct Size {
    int64_t m, n, k;
  };
  const std::vector<SimdLevel> levels = simdLevelsOfThisCpu();
  for (Size sz : {Size{7, 1, 5}, Size{13, 7, 300}, Size{6, 16, 256}, Size{29, 17, 700},
                  Size{11, 40, 513}, Size{64, 48, 96}}) {
    const int64_t lda = sz.k + 3, ldb = sz.n + 5, ldc = sz.n + 2;
    const std::vector<float> a = randomVector(sz.m * lda, 5), b = randomVector(sz.k * ldb, 6),
                             c0 = randomVector(sz.m * ldc, 7);
    std::vector<float> first;
    for (SimdLevel level : levels) {
      limitSimdForTesting(level);
      std::vector<float> c = c0;
      broadcastGemm(sz.m, sz.n, sz.k, a.data(), lda, b.data(), ldb, c.data(), ldc);
      limitSimdForTesting(SimdLevel::Avx512);
      if (first.empty())
        first = c;
      else
        EXPECT_EQ(std::memcmp(c.data(), first.data(), c.size() * sizeof(float)), 0)
            << "level " << int(level) << " differs from the scalar path, " << sz.m << "x"
            << sz.n << "x" << sz.k;
      for (int64_t i = 0; i < sz.m; ++i)
        for (int64_t col = 0; col < ldc; ++col) {
          if (col >= sz.n) { // padding between rows: untouched
            ASSERT_EQ(c[i * ldc + col], c0[i * ldc + col]) << "wrote past column n";
            continue;
          }
          double ref = c0[i * ldc + col], scale = std::fabs(ref);
          for (int64_t j = 0; j < sz.k; ++j) {
            ref += double(a[i * lda + j]) * b[j * ldb + col];
            scale += std::fabs(double(a[i * lda + j]) * b[j * ldb + col]);
          }
          ASSERT_LE(std::fabs(c[i * ldc + col] - ref), 1e-6 * scale)
              << "level " << int(level) << ", " << sz.m << "x" << sz.n << "x" << sz.k << " at ["
              << i << "][" << col << "]";
        }
    }
  }
}

// B c (projectRows: out[r][i] = p[i] . c[r]) at every SIMD level the CPU has,
// against float64: the AVX-512 tiles (6 rows of p x 32 rows of c, or 16), the
// AVX2 tiles (6 x 16) and the BLAS fallback; every element is one chain of
// multiply-adds in column order at both widths, so their results are the same
// bits. Shapes with row tails of p (1 to 5 rows), partial panels of c (5, 11,
// 17 rows; 32 and 40: a pair of panels, and one after it), odd column counts
// and several column chunks.
TEST(CpuBlocked, ProjectRowsMatchesFloat64AtEverySimdLevel) {
  struct Size {
    int64_t n, d, dc;
  };
  const std::vector<SimdLevel> levels = simdLevelsOfThisCpu();
  for (Size sz : {Size{5, 7, 37}, Size{32, 100, 2100}, Size{1, 1, 16}, Size{11, 50, 4111},
                  Size{17, 53, 300}, Size{40, 9, 513}}) {
    const std::vector<float> p = randomVector(sz.d * sz.dc, 3), c = randomVector(sz.n * sz.dc, 4);
    std::vector<float> avx2;
    for (SimdLevel level : levels) {
      limitSimdForTesting(level);
      std::vector<float> out(sz.n * sz.d, std::numeric_limits<float>::quiet_NaN());
      projectRows(sz.n, sz.d, sz.dc, p.data(), c.data(), out.data());
      limitSimdForTesting(SimdLevel::Avx512);
      if (level == SimdLevel::Avx2)
        avx2 = out;
      if (level == SimdLevel::Avx512) {
        EXPECT_EQ(std::memcmp(out.data(), avx2.data(), out.size() * sizeof(float)), 0)
            << "AVX-512 and AVX2 differ, " << sz.n << "x" << sz.d << "x" << sz.dc;
      }
      for (int64_t r = 0; r < sz.n; ++r)
        for (int64_t i = 0; i < sz.d; ++i) {
          double ref = 0.0, scale = 0.0;
          for (int64_t j = 0; j < sz.dc; ++j) {
            ref += double(p[i * sz.dc + j]) * c[r * sz.dc + j];
            scale += std::fabs(double(p[i * sz.dc + j]) * c[r * sz.dc + j]);
          }
          ASSERT_LE(std::fabs(out[r * sz.d + i] - ref), 1e-6 * scale)
              << "level " << int(level) << ", " << sz.n << "x" << sz.d << "x" << sz.dc
              << " at [" << r << "][" << i << "]";
        }
    }
  }
}
