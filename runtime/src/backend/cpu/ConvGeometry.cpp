//===- ConvGeometry.cpp - shapes and scratch sizes of a convolution -------===//
#include "backend/cpu/ConvGeometry.h"

#include "backend/cpu/Winograd.h"

#include <algorithm>

namespace locus::rt::cpu {

ConvGeometry geometry(Shape4 xs, const Window &win) {
  ConvGeometry g;
  g.c = xs.c;
  g.h = xs.h;
  g.w = xs.w;
  Shape4 ys = win.outputShape(xs, 1);
  g.oh = ys.h;
  g.ow = ys.w;
  g.p = g.oh * g.ow;
  g.k = xs.c * win.kh * win.kw;
  g.win = win;
  return g;
}

int64_t groupSize(const ConvGeometry &g, int64_t n) {
  constexpr int64_t kTargetColumns = 512;
  if (g.p >= kTargetColumns)
    return 1;
  int64_t grp = (kTargetColumns + g.p - 1) / g.p;
  return std::max<int64_t>(1, std::min(grp, n));
}

int64_t biasedIm2colFloats(const ConvGeometry &g, int64_t outChannels) {
  return (g.k + 1) * g.p + outChannels * (g.k + 1);
}

int64_t convReluPoolSlotFloats(Shape4 xs, int64_t outChannels) {
  const int64_t padded = xs.c * (xs.h + 2) * (xs.w + 2);
  const int64_t rows = 4 * 2 * xs.w;
  const int64_t planeAndSums = xs.h * xs.w + outChannels * (9 * xs.c + 1);
  return padded + std::max(rows, planeAndSums);
}

int64_t convReluPoolWorkspaceFloats(Shape4 xs, int64_t outChannels) {
  const int64_t slots = std::max<int64_t>(1, std::min(xs.n, kConvReluPoolSlots));
  return slots * convReluPoolSlotFloats(xs, outChannels);
}

int64_t conv2dWorkspaceFloats(Shape4 xs, const Window &win, int64_t outChannels) {
  // The largest scratch of the three passes: the data gradient takes one
  // sample's im2col, or a group's im2col plus its [O x gP] GEMM operand; the
  // forward pass and the weight gradient take the same, or the biased im2col
  // for one sample, or Winograd's chunks where that path runs. Where it may
  // run, every call reserves this largest size, so the plan holds whichever
  // path runs and whichever steps a mode has.
  const ConvGeometry g = geometry(xs, win);
  const int64_t grp = groupSize(g, xs.n);
  const int64_t grouped = g.k * grp * g.p + outChannels * grp * g.p;
  const int64_t dataGrad = grp == 1 ? (g.identityCol() ? 0 : g.k * g.p) : grouped;
  int64_t forward = grp == 1 ? (g.identityCol() ? 0 : biasedIm2colFloats(g, outChannels)) : grouped;
  if (winogradShape(xs, win, outChannels))
    forward = winogradPlan(xs, outChannels).floats(xs.c);
  return std::max<int64_t>({forward, dataGrad, 1}); // Workspace::get never takes less
}

} // namespace locus::rt::cpu
