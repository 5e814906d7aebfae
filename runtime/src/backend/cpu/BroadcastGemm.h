//===- BroadcastGemm.h - C += A B with few columns, without packing -*- C++ -*-===//
//
// The products whose B has few columns (a few dozen to a hundred): the
// projections B c of the bilinear rules (c's 32-64 rows) and the Winograd
// GEMMs of deep layers (32-128 tiles). OpenBLAS packs both operands for
// every call, and here A is the large one and is read once, so packing it
// costs as much memory traffic as the product. This kernel reads A where it
// is, broadcasting its elements against rows of B (which stay in L1), in
// register tiles of 6 rows of A x 16 columns of B (AVX-512: x 32).
//
// Every element of C gains one chain of fused multiply-adds over k in order
// per chunk of kBroadcastChunk, added to C chunk by chunk, at every width:
// the AVX2, AVX-512 and scalar paths give the same bits.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_BACKEND_CPU_SRC_BROADCASTGEMM_H
#define LOCUS_RUNTIME_BACKEND_CPU_SRC_BROADCASTGEMM_H

#include <cstdint>

namespace locus::rt::cpu {

/// Columns of B one register tile of AVX2 covers (a panel).
constexpr int64_t kBroadcastPanel = 16;

/// c [m, n] += a [m, k] b [k, n], row-major with leading dimensions lda, ldb
/// and ldc; one thread. Without AVX2 it runs a scalar loop (the same bits):
/// callers that can use BLAS there ask broadcastGemmVectorised first.
void broadcastGemm(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *b,
                   int64_t ldb, float *c, int64_t ldc);

/// Whether broadcastGemm runs vector tiles on this CPU (and SIMD ceiling).
bool broadcastGemmVectorised();

} // namespace locus::rt::cpu

#endif
