//===- Elementwise.cpp - driving the compiled relu and triangle -----------===//
//
// The math is locusc's (locus-generate-activation-kernels,
// abi/ActivationKernels.h); this file splits the work across the runtime's
// threads: flat chunks for relu, whole samples for triangle (its channel
// means are per sample).
//
//===----------------------------------------------------------------------===//
#include "locus/runtime/backend/cpu/Kernels.h"

#include "backend/cpu/Parallel.h"

#include <algorithm>

namespace locus::rt::cpu {

namespace {
constexpr int64_t kChunk = 1 << 14; // floats per parallel chunk of a flat loop

template <typename Fn> void chunked(int64_t count, Fn &&fn) {
  const int64_t chunks = (count + kChunk - 1) / kChunk;
  parallelFor(chunks, chunks >= 4, [&](int64_t ci) {
    const int64_t lo = ci * kChunk, hi = std::min(count, lo + kChunk);
    fn(lo, hi);
  });
}

abi::MemRef1F32 slice(const float *data, int64_t lo, int64_t hi) {
  // Inputs are only read through their descriptors.
  return abi::memref1(const_cast<float *>(data) + lo, hi - lo);
}

abi::MemRef3F32 sample(const float *data, Shape4 s, int64_t n) {
  return abi::memref3(const_cast<float *>(data) + n * s.c * s.plane(), 1, s.c, s.plane());
}
} // namespace

void reluForward(const abi::ActivationKernels &k, const float *x, float *y, int64_t count) {
  chunked(count, [&](int64_t lo, int64_t hi) {
    abi::MemRef1F32 in = slice(x, lo, hi), out = slice(y, lo, hi);
    k.reluForward(&in, &out);
  });
}

void reluBackward(const abi::ActivationKernels &k, const float *y, const float *dy, float *dx,
                  int64_t count) {
  chunked(count, [&](int64_t lo, int64_t hi) {
    abi::MemRef1F32 out = slice(y, lo, hi), g = slice(dy, lo, hi), d = slice(dx, lo, hi);
    k.reluBackward(&out, &g, &d);
  });
}

void triangleForward(const abi::ActivationKernels &k, const float *x, Shape4 xs, float *y) {
  if (xs.c == 0)
    return;
  parallelFor(xs.n, xs.count() >= (1 << 16), [&](int64_t n) {
    abi::MemRef3F32 in = sample(x, xs, n), out = sample(y, xs, n);
    k.triangleForward(&in, &out);
  });
}

void triangleBackward(const abi::ActivationKernels &k, const float *x, Shape4 xs,
                      const float *dy, float *dx) {
  if (xs.c == 0)
    return;
  parallelFor(xs.n, xs.count() >= (1 << 16), [&](int64_t n) {
    abi::MemRef3F32 in = sample(x, xs, n), g = sample(dy, xs, n), d = sample(dx, xs, n);
    k.triangleBackward(&in, &g, &d);
  });
}

} // namespace locus::rt::cpu
