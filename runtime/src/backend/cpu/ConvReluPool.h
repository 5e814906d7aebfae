//===- ConvReluPool.h - the fused kernels, path chosen by the caller -*- C++ -*-===//
//
// convReluPoolForward and convReluPoolBackwardWeight (Kernels.h) take the
// AVX2 path where the CPU has it; these take `vector` from the caller, so
// tests can check the scalar path on any machine.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_BACKEND_CPU_SRC_CONVRELUPOOL_H
#define LOCUS_RUNTIME_BACKEND_CPU_SRC_CONVRELUPOOL_H

#include "locus/runtime/backend/cpu/Kernels.h"

namespace locus::rt::cpu {

void convReluPoolForwardOn(bool vector, const float *x, Shape4 xs, const float *w,
                           int64_t outChannels, const float *b, float *h, int32_t *argmax,
                           Workspace &ws);
void convReluPoolBackwardWeightOn(bool vector, const float *x, Shape4 xs, const float *dh,
                                  const float *h, const int32_t *argmax, int64_t outChannels,
                                  float *dw, float *db, Workspace &ws);

} // namespace locus::rt::cpu

#endif
