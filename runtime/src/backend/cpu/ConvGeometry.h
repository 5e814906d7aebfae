//===- ConvGeometry.h - shapes and scratch sizes of a convolution -*- C++ -*-===//
//
// Shared by the convolution kernels (Conv.cpp) and the memory plan
// (locus-plan-memory, linked into locusc): both must agree on how many samples
// one GEMM covers and so on the im2col workspace, and this file has no BLAS
// dependency.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_BACKEND_CPU_SRC_CONVGEOMETRY_H
#define LOCUS_RUNTIME_BACKEND_CPU_SRC_CONVGEOMETRY_H

#include "locus/runtime/backend/cpu/Kernels.h"

namespace locus::rt::cpu {

struct ConvGeometry {
  int64_t c, h, w;   // input channels and map
  int64_t oh, ow, p; // output map, p = oh * ow
  int64_t k;         // c * kh * kw
  Window win;
  bool identityCol() const {
    return win.kh == 1 && win.kw == 1 && win.sh == 1 && win.sw == 1 && win.pt == 0 &&
           win.pl == 0 && win.pb == 0 && win.pr == 0 && oh == h && ow == w;
  }
};

ConvGeometry geometry(Shape4 xs, const Window &win);

/// Samples per GEMM: enough columns (g * P) to keep the GEMM efficient.
int64_t groupSize(const ConvGeometry &g, int64_t n);

/// Scratch of the per-sample im2col path: the [k+1 x P] im2col matrix with a
/// row of ones (the bias and its gradient ride in the GEMMs), then the
/// weights with the bias column, or [dW | db], [O x k+1].
int64_t biasedIm2colFloats(const ConvGeometry &g, int64_t outChannels);

/// The fused conv + relu + max-pool (ConvReluPool.cpp) runs samples in this
/// many slots at most: a fixed number, so that the plan locusc writes does
/// not depend on the machine that runs it.
constexpr int64_t kConvReluPoolSlots = 8;

/// Floats of one slot of the fused kernels: the zero-padded sample, then the
/// forward's two rows of 4 output channels, or the weight gradient's plane
/// buffer and [O, 9 C + 1] partial sums.
int64_t convReluPoolSlotFloats(Shape4 xs, int64_t outChannels);

} // namespace locus::rt::cpu

#endif
