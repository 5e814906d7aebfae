//===- Pool.cpp - driving the compiled max and average poolings -----------===//
//
// The math is locusc's (locus-generate-pooling-kernels,
// abi/PoolingKernels.h); this file hands the kernels one plane at a time
// from the runtime's threads. Arg-max indices are flat in the whole tensor:
// each plane's kernel call gets its plane's first index as `base`.
//
//===----------------------------------------------------------------------===//
#include "locus/runtime/backend/cpu/Kernels.h"

#include "backend/cpu/Parallel.h"

namespace locus::rt::cpu {

namespace {

abi::MemRef3F32 plane(const float *data, Shape4 s, int64_t pl) {
  // Inputs are only read through their descriptors.
  return abi::memref3(const_cast<float *>(data) + pl * s.plane(), 1, s.h, s.w);
}

abi::MemRef3I32 plane(const int32_t *data, Shape4 s, int64_t pl) {
  return abi::memref3(const_cast<int32_t *>(data) + pl * s.plane(), 1, s.h, s.w);
}

template <typename Fn> void forEachPlane(Shape4 xs, Fn &&fn) {
  parallelFor(xs.n * xs.c, xs.count() >= (1 << 16), fn);
}

void maxForward(const abi::PoolingKernels &k, const float *x, Shape4 xs, const Window &win,
                float *y, Shape4 ys, int32_t *argmax, bool relu) {
  forEachPlane(xs, [&](int64_t pl) {
    abi::MemRef3F32 in = plane(x, xs, pl), out = plane(y, ys, pl);
    abi::MemRef3I32 at = plane(argmax, ys, pl);
    k.maxForward(&in, &out, &at, win.kh, win.kw, win.sh, win.sw, win.pt, win.pl,
                 pl * xs.plane(), relu);
  });
}

void maxBackward(const abi::PoolingKernels &k, const float *dy, const float *h, Shape4 ys,
                 const int32_t *argmax, float *dx, Shape4 xs, bool relu) {
  // Without relu the kernel does not read h: dy stands in for it.
  const float *out = relu ? h : dy;
  forEachPlane(xs, [&](int64_t pl) {
    abi::MemRef3F32 g = plane(dy, ys, pl), o = plane(out, ys, pl), d = plane(dx, xs, pl);
    abi::MemRef3I32 at = plane(argmax, ys, pl);
    k.maxBackward(&g, &o, &at, &d, pl * xs.plane(), relu);
  });
}

void avgBackward(const abi::PoolingKernels &k, const float *dy, Shape4 ys, const Window &win,
                 const float *y, float *dx, Shape4 xs) {
  // Without y the kernel does not read it: dx stands in for it.
  const float *out = y ? y : dx;
  forEachPlane(xs, [&](int64_t pl) {
    abi::MemRef3F32 g = plane(dy, ys, pl), o = plane(out, xs, pl), d = plane(dx, xs, pl);
    k.avgBackward(&g, &o, &d, win.kh, win.kw, win.sh, win.sw, win.pt, win.pl, y != nullptr);
  });
}

} // namespace

void maxPool2dForward(const abi::PoolingKernels &k, const float *x, Shape4 xs,
                      const Window &win, float *y, Shape4 ys, int32_t *argmax) {
  maxForward(k, x, xs, win, y, ys, argmax, /*relu=*/false);
}

void maxPool2dBackward(const abi::PoolingKernels &k, const float *dy, Shape4 ys,
                       const int32_t *argmax, float *dx, Shape4 xs) {
  maxBackward(k, dy, nullptr, ys, argmax, dx, xs, /*relu=*/false);
}

void avgPool2dForward(const abi::PoolingKernels &k, const float *x, Shape4 xs,
                      const Window &win, float *y, Shape4 ys) {
  forEachPlane(xs, [&](int64_t pl) {
    abi::MemRef3F32 in = plane(x, xs, pl), out = plane(y, ys, pl);
    k.avgForward(&in, &out, win.kh, win.kw, win.sh, win.sw, win.pt, win.pl);
  });
}

void avgPool2dBackward(const abi::PoolingKernels &k, const float *dy, Shape4 ys,
                       const Window &win, float *dx, Shape4 xs) {
  avgBackward(k, dy, ys, win, nullptr, dx, xs);
}

void reluMaxPool2dForward(const abi::PoolingKernels &k, const float *a, Shape4 as,
                          const Window &win, float *h, Shape4 hs, int32_t *argmax) {
  maxForward(k, a, as, win, h, hs, argmax, /*relu=*/true);
}

void reluMaxPool2dBackward(const abi::PoolingKernels &k, const float *dh, const float *h,
                           Shape4 hs, const int32_t *argmax, float *da, Shape4 as) {
  maxBackward(k, dh, h, hs, argmax, da, as, /*relu=*/true);
}

void avgPool2dReluBackward(const abi::PoolingKernels &k, const float *dy, Shape4 ys,
                           const Window &win, const float *y, float *dx, Shape4 xs) {
  avgBackward(k, dy, ys, win, y, dx, xs);
}

} // namespace locus::rt::cpu
