//===- Optimizer.h - the CPU backend's fused update of B --------*- C++ -*-===//
#ifndef LOCUS_RUNTIME_BACKEND_CPU_OPTIMIZER_H
#define LOCUS_RUNTIME_BACKEND_CPU_OPTIMIZER_H

#include "locus/runtime/backend/Types.h"

#include <cstdint>

namespace locus::rt::cpu {

using rt::AdamMoments;
using rt::AdamW;
using rt::BFloat16;
using rt::MomentFormat;

/// AdamW on a matrix param [rows, cols] whose gradient is the rank-k product
/// a^T b (a [k, rows], b [k, cols]), computed tile by tile and never stored:
/// the projection B^l of the bilinear rules, with a = the row factors of
/// bilinearLossFactors and b = the context. Same result as forming the
/// gradient and stepping, without its 2 x rows x cols floats of traffic.
/// (The element update of every other parameter is the compiled kernels':
/// UpdateKernels.h, adamwStep.)
void adamwStepOuterProduct(const AdamW &opt, int64_t t, int64_t rows, int64_t cols, int64_t k,
                           const float *a, const float *b, float *param, float *m, float *v);
void adamwStepOuterProduct(const AdamW &opt, int64_t t, int64_t rows, int64_t cols, int64_t k,
                           const float *a, const float *b, float *param,
                           const AdamMoments &moments);

} // namespace locus::rt::cpu

#endif
