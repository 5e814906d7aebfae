//===- UpdateKernels.cpp - driving the compiled optimizer kernels ---------===//
//
// A kernel updates one slice per call; slices of kChunk elements go to the
// thread pool, as in AdamW::step. The LARS norms are summed per slice and the
// partial sums added in slice order, so the result does not depend on the
// number of threads.
//
//===----------------------------------------------------------------------===//
#include "locus/runtime/backend/cpu/UpdateKernels.h"

#include "backend/cpu/AdamMath.h"
#include "backend/cpu/Parallel.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace locus::rt::cpu {

namespace {

constexpr int64_t kChunk = 1 << 15;

MemRefF32 slice(const float *data, int64_t lo, int64_t hi) {
  // The kernels only write through their output operands; inputs are read.
  // memref<?xf32> has the identity layout, so its offset is statically 0:
  // a slice starts at its aligned pointer.
  float *p = const_cast<float *>(data) + lo;
  return MemRefF32{p, p, 0, hi - lo, 1};
}

template <typename Fn> void forEachSlice(int64_t count, Fn &&fn) {
  const int64_t chunks = (count + kChunk - 1) / kChunk;
  parallelFor(chunks, chunks >= 8, [&](int64_t ci) {
    const int64_t lo = ci * kChunk;
    fn(ci, lo, std::min(count, lo + kChunk));
  });
}

} // namespace

void adamwStep(const UpdateKernels &kernels, const AdamW &opt, int64_t t, int64_t count,
               float *param, const float *grad, float *m, float *v) {
  if (count <= 0)
    return;
  const AdamCoefficients k = adamCoefficients(opt, t);
  const float decay = k.doDecay ? k.decay : 1.0f;
  forEachSlice(count, [&](int64_t, int64_t lo, int64_t hi) {
    MemRefF32 g = slice(grad, lo, hi), p = slice(param, lo, hi), mm = slice(m, lo, hi),
              vv = slice(v, lo, hi);
    kernels.adamw(&g, &p, &mm, &vv, decay, k.w1, k.b1, k.b2, k.c2, k.negStep, k.bc2Sqrt, k.eps);
  });
}

void adamwStep(const UpdateKernels &kernels, const AdamW &opt, int64_t t, int64_t count,
               float *param, const float *grad, const AdamMoments &moments) {
  if (!moments.bf16()) {
    adamwStep(kernels, opt, t, count, param, grad, moments.m, moments.v);
    return;
  }
  if (count <= 0)
    return;
  const AdamCoefficients k = adamCoefficients(opt, t, moments);
  const float decay = k.doDecay ? k.decay : 1.0f;
  forEachSlice(count, [&](int64_t, int64_t lo, int64_t hi) {
    MemRefF32 g = slice(grad, lo, hi), p = slice(param, lo, hi);
    BFloat16 *m = moments.mBf16 + lo, *v = moments.vBf16 + lo;
    MemRefBf16 mm{m, m, 0, hi - lo, 1}, vv{v, v, 0, hi - lo, 1};
    kernels.adamwBf16(&g, &p, &mm, &vv, decay, k.w1, k.b1, k.b2, k.c2, k.negStep, k.bc2Sqrt,
                      k.eps, k.key, lo);
  });
}

void sgdStep(const UpdateKernels &kernels, const SgdMomentum &opt, int64_t count, float *param,
             const float *grad, float *buf, bool adapt) {
  if (count <= 0)
    return;
  const double wd = adapt || !opt.lars ? opt.weightDecay : 0.0;
  double scale = 1.0;
  if (opt.lars && adapt) {
    const int64_t chunks = (count + kChunk - 1) / kChunk;
    std::vector<double> sums(2 * chunks, 0.0);
    forEachSlice(count, [&](int64_t ci, int64_t lo, int64_t hi) {
      MemRefF32 p = slice(param, lo, hi), g = slice(grad, lo, hi);
      MemRefScalarF64 pp{&sums[2 * ci], &sums[2 * ci], 0};
      MemRefScalarF64 gg{&sums[2 * ci + 1], &sums[2 * ci + 1], 0};
      kernels.larsNorms(&p, &g, &pp, &gg, wd);
    });
    double paramSq = 0.0, gradSq = 0.0;
    for (int64_t ci = 0; ci < chunks; ++ci) {
      paramSq += sums[2 * ci];
      gradSq += sums[2 * ci + 1];
    }
    if (paramSq > 0.0 && gradSq > 0.0)
      scale = opt.trust * std::sqrt(paramSq) / std::sqrt(gradSq);
  }
  forEachSlice(count, [&](int64_t, int64_t lo, int64_t hi) {
    MemRefF32 g = slice(grad, lo, hi), p = slice(param, lo, hi), b = slice(buf, lo, hi);
    kernels.sgd(&g, &p, &b, float(wd), float(scale), float(opt.momentum), float(opt.lr));
  });
}

} // namespace locus::rt::cpu
