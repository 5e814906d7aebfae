//===- Pooling.h - the loss pooling z = flatten(avgpool_k(h)) --*- C++ -*-===//
//
// METHOD.md section 2 step 3: average pooling with kernel = stride = k in
// floor mode, flattened channel-major, which is exactly the NCHW layout of
// the pooled map, so z is the pooled tensor seen as [n, D, 1, 1].
// k = 0 pools the whole map (D = C); k = -1 means no pooling (z = h).
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_TRAIN_POOLING_H
#define LOCUS_RUNTIME_TRAIN_POOLING_H

#include "locus/runtime/backend/Backend.h"

namespace locus::rt::train {

constexpr int64_t kPoolNone = -1, kPoolGlobal = 0, kPoolAuto = -2;

/// The pooled map [n, C, H/k, W/k] (or [n, C, 1, 1], or h's shape).
Shape4 lossPooledMap(Shape4 h, int64_t k);
/// D = C * floor(H/k) * floor(W/k) (C for k = 0, C*H*W for k = -1).
int64_t lossDim(Shape4 h, int64_t k);

/// z as [n, D, 1, 1]. Shares h's storage when k = -1.
/// The compiled kernel for pooling a [n, C, H, W] map with k, if the engine
/// has the model's table and it lists one.
Tensor poolForLoss(Backend &backend, const Tensor &h, int64_t k);
/// The adjoint: dL/dh from dL/dz; zero where the floor-mode window drops
/// rows and columns.
Tensor unpoolGradient(Backend &backend, const Tensor &dz, Shape4 hShape, int64_t k);

} // namespace locus::rt::train

#endif
