//===- LossGeometry.cpp - sizes a block's local loss works on -------------===//
#include "locus/Dialect/Locus/IR/LossGeometry.h"

using namespace mlir;
using namespace locus;

int64_t locus::pooledDim(ShapedType map, int64_t pool) {
  ArrayRef<int64_t> s = map.getShape();
  if (s.size() != 4) {
    int64_t d = 1;
    for (int64_t v : s.drop_front())
      d *= v;
    return d;
  }
  if (pool == LossAttr::kPoolGlobal)
    return s[1];
  if (pool == LossAttr::kPoolNone)
    return s[1] * s[2] * s[3];
  return s[1] * (s[2] / pool) * (s[3] / pool);
}

LossGeometry locus::getLossGeometry(LocalLossOp marker) {
  LossGeometry g;
  LossAttr loss = marker.getLoss();
  auto map = cast<ShapedType>(marker.getInput().getType());
  g.views = map.getShape().front();
  g.dim = pooledDim(map, loss.getPool());

  SmallVector<LocalLossOp> blocks = getLearningBlocks(marker);
  int64_t self = llvm::find(blocks, marker) - blocks.begin();
  g.contextIndex = self;
  if (loss.usesLaterContext()) {
    g.contextIndex = blocks.size() - 1;
    if (!loss.getContextBlock().empty())
      for (auto [i, b] : llvm::enumerate(blocks))
        if (b.getBlock() == loss.getContextBlock())
          g.contextIndex = i;
  }
  LocalLossOp context = blocks[g.contextIndex];
  g.contextPool = loss.getContextPool() == LossAttr::kPoolAuto ||
                          !loss.usesLaterContext()
                      ? context.getLoss().getPool()
                      : loss.getContextPool();
  g.contextDim = pooledDim(cast<ShapedType>(context.getInput().getType()),
                           g.contextPool);
  g.hasProjection = loss.getProjection() != Projection::Identity;
  g.hasLateral = loss.getContextSource() == Context::Both;
  return g;
}
