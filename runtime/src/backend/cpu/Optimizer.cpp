//===- Optimizer.cpp - AdamW of a projection from its gradient's factors --===//
//
// The one update the runtime keeps, as a backend primitive: B stepped by
// AdamW from the rank-k factors of its gradient, tile by tile (Blocked.cpp),
// without forming dL/dB. Every other update is the compiled kernels'
// (UpdateKernels.h).
//
//===----------------------------------------------------------------------===//
#include "locus/runtime/backend/cpu/Optimizer.h"

#include "backend/cpu/Blocked.h"

namespace locus::rt::cpu {

void adamwStepOuterProduct(const AdamW &opt, int64_t t, int64_t rows, int64_t cols, int64_t k,
                           const float *a, const float *b, float *param, float *m, float *v) {
  AdamMoments moments;
  moments.m = m;
  moments.v = v;
  adamwOuterProduct(opt, t, rows, cols, k, a, b, param, moments);
}

void adamwStepOuterProduct(const AdamW &opt, int64_t t, int64_t rows, int64_t cols, int64_t k,
                           const float *a, const float *b, float *param,
                           const AdamMoments &moments) {
  adamwOuterProduct(opt, t, rows, cols, k, a, b, param, moments);
}

} // namespace locus::rt::cpu
