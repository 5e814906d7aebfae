#include "Pooling.h"

namespace locus::rt::train {

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

Tensor poolForLoss(Backend &backend, const Tensor &h, int64_t k) {
  Shape4 hs = h.shape(), zs{hs.n, lossDim(hs, k), 1, 1};
  if (k == kPoolNone)
    return h.reshaped(zs);
  Shape4 ps = lossPooledMap(hs, k);
  Tensor z = backend.allocate(ps);
  backend.lossPool(h.data(), hs, k, z.data(), ps);
  return z.reshaped(zs);
}

Tensor unpoolGradient(Backend &backend, const Tensor &dz, Shape4 hShape, int64_t k) {
  if (k == kPoolNone)
    return dz.reshaped(hShape);
  Shape4 ps = lossPooledMap(hShape, k);
  Tensor dh = backend.allocate(hShape);
  backend.lossUnpool(dz.data(), ps, k, dh.data(), hShape);
  return dh;
}

} // namespace locus::rt::train
