//===- Blocked.h - register-blocked kernels of the bilinear rules -*- C++ -*-===//
//
// The two large products of the bilinear rules are thin: N = 2B rows (32-64)
// against D x Dc projections (up to 8192 x 8192). OpenBLAS packs the big
// operand and, for the rank-N product, zeroes and re-reads the output, so
// both run far from peak and several times over memory. These kernels stream
// the projection (or its gradient) once, with AVX2/FMA register tiles when
// the CPU has them (run-time dispatch) and OpenBLAS otherwise.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_BACKEND_CPU_SRC_BLOCKED_H
#define LOCUS_RUNTIME_BACKEND_CPU_SRC_BLOCKED_H

#include "locus/runtime/backend/Types.h"

#include <cstdint>

namespace locus::rt::cpu {

/// out[i][j] = sum_r a[r][i] b[r][j] (+ out[i][j] when accumulate):
/// a is [k, rows], b is [k, cols], out is [rows, cols] (the rank-k dL/dB).
void outerProduct(int64_t rows, int64_t cols, int64_t k, const float *a, const float *b,
                  bool accumulate, float *out);

/// One AdamW step on param [rows, cols] with gradient sum_r a[r][i] b[r][j],
/// the gradient never stored.
void adamwOuterProduct(const AdamW &opt, int64_t t, int64_t rows, int64_t cols, int64_t k,
                       const float *a, const float *b, float *param,
                       const AdamMoments &moments);

/// out[r][i] = sum_j p[i][j] c[r][j]: p is [d, dc], c is [n, dc], out is [n, d]
/// (B c for every row).
void projectRows(int64_t n, int64_t d, int64_t dc, const float *p, const float *c, float *out);

} // namespace locus::rt::cpu

#endif
