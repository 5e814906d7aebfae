//===- DirectConv.h - direct 3x3 convolutions of few input channels -*- C++ -*-===//
//
// A network's first layer sees 1 or 3 image channels. Through im2col its
// GEMMs have K = 9 C + 1, so they are bound by writing the output: OpenBLAS
// first clears y (beta = 0), then reads and writes it again, and the weight
// gradient packs all of dy. The direct kernels write y once and read dy once.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_BACKEND_CPU_SRC_DIRECTCONV_H
#define LOCUS_RUNTIME_BACKEND_CPU_SRC_DIRECTCONV_H

#include "locus/runtime/backend/cpu/Kernels.h"

namespace locus::rt::cpu {

/// Whether the direct kernels take the convolution: 3x3, stride 1, padding
/// 1, fewer than 16 input channels (Winograd's bound), maps at least 8 wide,
/// and a CPU with AVX2 (else im2col runs; the plan holds either).
bool directConvApplies(Shape4 xs, const Window &win);

/// y = conv3x3(x, w) + b (b may be null), padding 1: same as conv2dForward.
/// Takes its padded copies of samples from ws within `wsFloats` (at least one).
void directConv2dForward(const float *x, Shape4 xs, const float *w, int64_t outChannels,
                         const float *b, float *y, Workspace &ws, int64_t wsFloats);

/// dw (and db unless null) of the same convolution for output gradient dy.
void directConv2dBackwardWeight(const float *x, Shape4 xs, const float *dy,
                                int64_t outChannels, float *dw, float *db, Workspace &ws,
                                int64_t wsFloats);

} // namespace locus::rt::cpu

#endif
