#include "Pooling.h"

namespace locus::rt::train {

namespace {
cpu::Window poolWindow(Shape4 h, int64_t k) {
  cpu::Window w;
  w.kh = w.sh = k == kPoolGlobal ? h.h : k;
  w.kw = w.sw = k == kPoolGlobal ? h.w : k;
  return w;
}
} // namespace

Shape4 lossPooledMap(Shape4 h, int64_t k) {
  if (k == kPoolNone)
    return h;
  if (k == kPoolGlobal)
    return Shape4{h.n, h.c, 1, 1};
  return Shape4{h.n, h.c, h.h / k, h.w / k};
}

int64_t lossDim(Shape4 h, int64_t k) {
  Shape4 p = lossPooledMap(h, k);
  return p.c * p.h * p.w;
}

const cpu::LossPoolKernel *compiledPooling(const ExecContext &ctx, Shape4 h, int64_t k) {
  return ctx.kernels.lossPools ? ctx.kernels.lossPools->find(h.c, h.h, h.w, k) : nullptr;
}

Tensor poolForLoss(ExecContext &ctx, const Tensor &h, int64_t k) {
  Shape4 hs = h.shape(), zs{hs.n, lossDim(hs, k), 1, 1};
  if (k == kPoolNone)
    return h.reshaped(zs);
  Shape4 ps = lossPooledMap(hs, k);
  Tensor z = ctx.allocate(ps);
  if (const cpu::LossPoolKernel *kernel = compiledPooling(ctx, hs, k)) {
    cpu::lossPool(*kernel, h.data(), z.data(), hs.n);
  } else {
    cpu::avgPool2dForward(*ctx.kernels.pooling, h.data(), hs, poolWindow(hs, k), z.data(), ps);
  }
  return z.reshaped(zs);
}

Tensor unpoolGradient(ExecContext &ctx, const Tensor &dz, Shape4 hShape, int64_t k) {
  if (k == kPoolNone)
    return dz.reshaped(hShape);
  Shape4 ps = lossPooledMap(hShape, k);
  Tensor dh = ctx.allocate(hShape);
  if (const cpu::LossPoolKernel *kernel = compiledPooling(ctx, hShape, k)) {
    cpu::lossUnpool(*kernel, dz.data(), dh.data(), hShape.n);
  } else {
    cpu::avgPool2dBackward(*ctx.kernels.pooling, dz.data(), ps, poolWindow(hShape, k), dh.data(), hShape);
  }
  return dh;
}

} // namespace locus::rt::train
