//===- DirectConv.cpp - direct 3x3 convolutions of few input channels -----===//
//
// Each sample is copied once into a zero-padded (H + 2) x (W + 2) block per
// channel; an output vector of 8 columns is then 9 C FMAs of shifted rows of
// that block. The forward pass computes 4 output channels per input load; the
// weight gradient keeps the 9 taps of one (output, input) channel pair in
// registers while it walks dy once. Samples are split into slots, each with
// its own padded copy (and, for the weight gradient, its own partial sums)
// inside the planned scratch.
//
//===----------------------------------------------------------------------===//
#include "backend/cpu/DirectConv.h"

#include "backend/cpu/DirectConvKernels.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace locus::rt::cpu {

namespace {

using namespace direct;

constexpr int64_t kMaxChannels = 16; // from here on Winograd takes 3x3 layers

} // namespace

bool directConvApplies(Shape4 xs, const Window &win) {
  static const bool off = [] {
    const char *env = std::getenv("LOCUS_CPU_DIRECT_CONV");
    return env && std::strcmp(env, "0") == 0;
  }();
  return !off && useAvx2() && win.kh == 3 && win.kw == 3 && win.sh == 1 && win.sw == 1 &&
         win.pt == 1 && win.pl == 1 && win.pb == 1 && win.pr == 1 && xs.c >= 1 &&
         xs.c < kMaxChannels && xs.w >= kLanes && xs.h >= 1;
}

void directConv2dForward(const float *x, Shape4 xs, const float *w, int64_t outChannels,
                         const float *b, float *y, Workspace &ws, int64_t wsFloats) {
#if defined(LOCUS_HAVE_X86)
  const PaddedSample p = paddedShape(xs);
  const Slots slots = makeSlots(ws, wsFloats, xs.n, p.floats);
  const int64_t xStride = xs.c * xs.h * xs.w, yStride = outChannels * xs.h * xs.w;
  parallelFor(slots.count, true, [&](int64_t slot) {
    float *pad = slots.base + slot * p.floats;
    for (int64_t n = slots.first(slot, xs.n); n < slots.first(slot + 1, xs.n); ++n) {
      padSample(x + n * xStride, xs, p, pad);
      const int64_t plane = xs.h * xs.w;
      float *yn = y + n * yStride;
      int64_t o = 0;
      for (; o + 4 <= outChannels; o += 4)
        forwardRows<4>(pad, p, xs, w, o, b, 0, xs.h, yn + o * plane, plane);
      for (; o < outChannels; ++o)
        forwardRows<1>(pad, p, xs, w, o, b, 0, xs.h, yn + o * plane, plane);
    }
  });
#else
  (void)x, (void)xs, (void)w, (void)outChannels, (void)b, (void)y, (void)ws, (void)wsFloats;
#endif
}

void directConv2dBackwardWeight(const float *x, Shape4 xs, const float *dy,
                                int64_t outChannels, float *dw, float *db, Workspace &ws,
                                int64_t wsFloats) {
#if defined(LOCUS_HAVE_X86)
  const PaddedSample p = paddedShape(xs);
  const int64_t perOut = 9 * xs.c + 1, partialFloats = outChannels * perOut;
  const int64_t perSlot = p.floats + partialFloats;
  const Slots slots = makeSlots(ws, wsFloats, xs.n, perSlot);
  const int64_t xStride = xs.c * xs.h * xs.w, plane = xs.h * xs.w;
  parallelFor(slots.count, true, [&](int64_t slot) {
    float *pad = slots.base + slot * perSlot;
    float *partial = pad + p.floats;
    std::fill(partial, partial + partialFloats, 0.0f);
    for (int64_t n = slots.first(slot, xs.n); n < slots.first(slot + 1, xs.n); ++n) {
      padSample(x + n * xStride, xs, p, pad);
      for (int64_t o = 0; o < outChannels; ++o)
        weightGradPlane(pad, p, xs, dy + (n * outChannels + o) * plane, partial + o * perOut);
    }
  });
  sumSlotPartials(slots, perSlot, p.floats, outChannels, xs.c, dw, db);
#else
  (void)x, (void)xs, (void)dy, (void)outChannels, (void)dw, (void)db, (void)ws, (void)wsFloats;
#endif
}

} // namespace locus::rt::cpu
