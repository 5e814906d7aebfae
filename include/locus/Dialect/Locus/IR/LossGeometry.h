//===- LossGeometry.h - sizes a block's local loss works on ----*- C++ -*-===//
//
// The pooled vector z^l of a block has D_l = C * floor(H/k) * floor(W/k)
// entries (C for global pooling, C*H*W without pooling); the context comes
// from the block itself or a later block, pooled with its own kernel. The
// projection B is D_l x D_ctx. Passes and the descriptor emitter share these.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_DIALECT_LOCUS_IR_LOSSGEOMETRY_H
#define LOCUS_DIALECT_LOCUS_IR_LOSSGEOMETRY_H

#include "locus/Dialect/Locus/IR/LocusOps.h"

namespace locus {

/// Length of a [N,C,H,W] (or [N,D]) map pooled with `pool`.
int64_t pooledDim(mlir::ShapedType map, int64_t pool);

struct LossGeometry {
  int64_t dim = 0;         ///< D_l
  int64_t contextDim = 0;  ///< D of the context vector
  int64_t contextPool = 0; ///< kernel applied to the context block (resolved)
  int64_t contextIndex = -1; ///< index of the context block among all blocks
  int64_t views = 0;       ///< N, rows of z
  /// Parameters of the loss: B (D_l x D_ctx) unless the projection is the
  /// identity, and B_lat (D_l x D_l) for context = both.
  bool hasProjection = false, hasLateral = false;
};

/// Requires static shapes (after locus-infer-shapes).
LossGeometry getLossGeometry(LocalLossOp marker);

} // namespace locus

#endif
