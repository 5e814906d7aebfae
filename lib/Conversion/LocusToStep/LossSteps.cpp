//===- LossSteps.cpp - a block's loss and its gradient as step calls ------===//
//
// From the marker to locus.loss_grad: the loss poolings (a generated kernel,
// or a view of the map without pooling), the contexts (pooled by the step's
// forward-only pass), the loss terms and dL/dh through the pooling's
// adjoint. A bilinear term is B c for every row (a backend primitive), then the
// generated kernel of its (f, form, negatives), called by the program with
// its scratch in the arena, which writes the loss into the term's slot, dz
// and the row factors of dL/dB. The trained projections are updated here, as
// loss_grad says: in the fused variant by AdamW from those factors (dL/dB
// never formed), otherwise from dL/dB = factors^T c (a primitive) handed to the
// step's optimizer. CLAPP++both's lateral term adds its dz to the feedback
// term's. BP-InfoNCE's head and similarities are GEMMs around its three
// kernels; FF's and SCFF's goodness kernels read the block's 2N rows
// (positives, then negatives) directly.
//
//===----------------------------------------------------------------------===//
#include "StepBuilder.h"

#include "locus/runtime/abi/LossKernels.h"

using namespace mlir;

namespace locus::step {

namespace {

/// [N, C, H/k, W/k] (k = 0: [N, C, 1, 1]; k = -1: the map itself).
SmallVector<int64_t> pooledMap(ArrayRef<int64_t> h, int64_t k) {
  if (k == LossAttr::kPoolNone)
    return SmallVector<int64_t>(h);
  if (k == LossAttr::kPoolGlobal)
    return {h[0], h[1], 1, 1};
  return {h[0], h[1], h[2] / k, h[3] / k};
}

struct Term {
  BilinearLossOp op;
  Value z, c;
  int32_t projection;
};

/// dL/dh of the block output h from dz in the pooled map's shape.
void unpool(StepBuilder &b, Value dzMap, Value h, int64_t kernel, LossGradOp grad) {
  Value dh = dzMap;
  if (kernel != LossAttr::kPoolNone) {
    dh = b.alloc(cast<MemRefType>(h.getType()).getShape(), b.builder.getF32Type());
    b.call("loss_unpool", {dzMap, dh, b.i64(kernel)});
  }
  b.buffers[grad.getResult()] = dh;
}

/// BP-InfoNCE: p = z W^T through the shared head W [D, D]; ph, p's rows
/// normalised, and their similarities S = ph ph^T; NT-Xent's loss and dS;
/// then back: dph = dS ph, dp through the normalisation, dz = dp W and
/// dW = dp^T z.
LogicalResult lowerInfoNce(StepBuilder &b, InfoNceLossOp loss, Value z, Value h, int64_t kernel,
                           LossGradOp grad, Unsupported &why) {
  FailureOr<int32_t> head = b.param(loss.getHead(), why);
  if (failed(head))
    return failure();
  auto zShape = cast<MemRefType>(z.getType()).getShape();
  const int64_t n = zShape[0];
  Type f32 = b.builder.getF32Type(), f64 = b.builder.getF64Type();
  Value p = b.alloc(zShape, f32), ph = b.alloc(zShape, f32), norms = b.alloc({n}, f64);
  b.call("matmul_param", {z, b.i32(*head), b.i32(1), p});
  if (failed(b.callKernel("locus_infonce_normalize", {p, ph, norms}, why)))
    return failure();
  Value sim = b.alloc({n, n}, f32), dsim = b.alloc({n, n}, f32);
  b.call("matmul", {ph, b.i32(0), ph, b.i32(1), sim});
  LossAttr attr = loss.getLoss();
  if (failed(b.callKernel("locus_infonce_loss",
                          {sim, dsim, b.lossSlot(loss), b.f64(attr.getTemperatureValue()),
                           b.f64(attr.getWeightValue())},
                          why)))
    return failure();
  if (!b.train())
    return success();
  Value dph = b.alloc(zShape, f32), dp = b.alloc(zShape, f32);
  b.call("matmul", {dsim, b.i32(0), ph, b.i32(0), dph});
  if (failed(b.callKernel("locus_infonce_normalize_adjoint", {ph, dph, norms, dp}, why)))
    return failure();
  Value dzMap = b.alloc(pooledMap(cast<MemRefType>(h.getType()).getShape(), kernel), f32);
  b.call("matmul_param", {dp, b.i32(*head), b.i32(0), b.rows2d(dzMap)});
  Value dW = b.alloc({zShape[1], zShape[1]}, f32);
  b.call("matmul", {dp, b.i32(1), z, b.i32(0), dW});
  b.update(*head, dW);
  unpool(b, dzMap, h, kernel, grad);
  return success();
}

/// One bilinear term on dz (added to the term before it with `accumulate`):
/// bc = B c (c itself for B = I), the generated kernel, then B's update.
LogicalResult lowerBilinearTerm(StepBuilder &b, Term t, Value negatives, Value dz,
                                bool accumulate, Unsupported &why) {
  LossAttr attr = t.op.getLoss();
  auto zShape = cast<MemRefType>(t.z.getType()).getShape();
  const int64_t n = zShape[0], d = zShape[1];
  const int64_t dc = cast<MemRefType>(t.c.getType()).getShape()[1];
  Type f32 = b.builder.getF32Type();
  Value bc = t.c;
  if (t.projection >= 0) {
    bc = b.alloc({n, d}, f32);
    b.call("project_rows", {t.c, b.i32(t.projection), bc});
  } else if (dc != d) {
    why.reason = "an identity projection between a z and a context of different widths";
    return failure();
  }
  Value factors = b.alloc({n, d}, f32);
  Value work = b.alloc({n, 4}, b.builder.getF64Type());
  std::string kernel = abi::bilinearLossKernelName(stringifyLossFunction(attr.getF()).str(),
                                                   stringifyLossForm(attr.getForm()).str(),
                                                   stringifyNegatives(attr.getNegatives()).str());
  Value flag = arith::ConstantOp::create(b.builder, b.loc, b.builder.getBoolAttr(accumulate));
  if (failed(b.callKernel(kernel,
                          {t.z, bc, negatives, dz, factors, work, b.lossSlot(t.op),
                           b.f64(attr.getThetaValue()), b.f64(attr.getWeightValue()), flag},
                          why)))
    return failure();
  // dL/dB [D, Dc] is formed only where an optimizer takes it whole (SGD,
  // LARS, gradient checks). The fused AdamW updates B from the row factors
  // [N, D]; evaluation and the identity projection update nothing.
  if (!b.train() || t.projection < 0)
    return success();
  if (b.variant == Variant::TrainFused && b.factorUpdate) {
    b.call("adamw_from_factors", {b.i32(t.projection), factors, t.c});
    return success();
  }
  Value dB = b.alloc({d, dc}, f32);
  b.call("projection_gradient", {factors, t.c, dB});
  if (b.variant == Variant::TrainFused) // AdamW at once: dB dies here
    b.call("apply_gradient", {b.i32(t.projection), b.flat(dB)});
  else
    b.update(t.projection, dB);
  return success();
}

} // namespace

Value poolForLoss(StepBuilder &b, Value h, int64_t k) {
  auto shape = cast<MemRefType>(h.getType()).getShape();
  if (k == LossAttr::kPoolNone)
    return b.rows2d(h);
  Value map = b.alloc(pooledMap(shape, k), b.builder.getF32Type());
  b.call("loss_pool", {h, map, b.i64(k)});
  return b.rows2d(map);
}

void poolContext(StepBuilder &b, Value h, int64_t block, int64_t kernel) {
  b.contexts[{block, kernel}] = poolForLoss(b, h, kernel);
}

LogicalResult lowerLoss(StepBuilder &b, BlockOp block, Unsupported &why) {
  LocalLossOp marker = block.getMarker();
  // The pooled maps of this block's losses, by tensor value.
  llvm::DenseMap<Value, Value> pooled;
  SmallVector<Term> terms;
  InfoNceLossOp infoNce;
  int64_t lossKernel = 0;
  Value h = b.bufferOf(marker.getInput());
  b.buffers[marker.getResult()] = h;

  for (Operation *op = marker->getNextNode(); op; op = op->getNextNode()) {
    if (auto pool = dyn_cast<LossPoolOp>(op)) {
      Value map = b.bufferOf(pool.getInput());
      if (!map || cast<MemRefType>(map.getType()).getRank() != 4) {
        why.reason = "a loss pooling of a value that is not the block's [N, C, H, W] output";
        return failure();
      }
      pooled[pool.getResult()] = poolForLoss(b, map, pool.getKernel());
      continue;
    }
    if (auto context = dyn_cast<LossContextOp>(op)) {
      auto it = b.contexts.end();
      if (auto index = b.blockIndexOf.find(context.getBlock()); index != b.blockIndexOf.end())
        it = b.contexts.find({index->second, context.getKernel()});
      if (it == b.contexts.end()) {
        why.reason = ("the context of block '" + context.getBlock() + "'").str();
        return failure();
      }
      pooled[context.getResult()] = it->second;
      continue;
    }
    if (auto loss = dyn_cast<BilinearLossOp>(op)) {
      Term t{loss, pooled.lookup(loss.getZ()), pooled.lookup(loss.getContext()), -1};
      if (!t.z || !t.c) {
        why.reason = "a bilinear loss whose z or context is not a loss pooling";
        return failure();
      }
      if (Value projection = loss.getProjection()) { // else B = I: index -1
        FailureOr<int32_t> p = b.param(projection, why);
        if (failed(p))
          return failure();
        t.projection = *p;
      }
      if (terms.empty())
        lossKernel = loss.getZ().getDefiningOp<LossPoolOp>().getKernel();
      else if (loss.getZ() != terms.front().op.getZ()) {
        why.reason = "two loss terms on different poolings";
        return failure();
      }
      terms.push_back(t);
      continue;
    }
    if (isa<LossSumOp>(op))
      continue;
    if (auto loss = dyn_cast<InfoNceLossOp>(op)) {
      auto pool = loss.getZ().getDefiningOp<LossPoolOp>();
      if (!pool || !pooled.lookup(loss.getZ())) {
        why.reason = "an InfoNCE loss whose z is not a loss pooling";
        return failure();
      }
      infoNce = loss;
      lossKernel = pool.getKernel();
      continue;
    }
    if (auto grad = dyn_cast<LossGradOp>(op)) {
      if (infoNce)
        return lowerInfoNce(b, infoNce, pooled.lookup(infoNce.getZ()), h, lossKernel, grad, why);
      if (terms.empty() || terms.size() > 2) {
        why.reason = "a loss that is not one or two bilinear terms";
        return failure();
      }
      LossAttr attr = terms.front().op.getLoss();
      Value z = terms.front().z;
      auto zShape = cast<MemRefType>(z.getType()).getShape();
      int64_t n = zShape[0];
      Value negatives = b.alloc({attr.getNegatives() == Negatives::Random ? n : 0},
                                b.builder.getI32Type());
      if (attr.getNegatives() == Negatives::Random)
        b.call("draw_negatives", {b.i32(b.blockIndex), negatives});
      else if (attr.getNegatives() != Negatives::Next) {
        why.reason = "negatives other than next and random in a bilinear loss";
        return failure();
      }
      // dz has the pooled map's shape, so that the unpooling reads it as such.
      auto hShape = cast<MemRefType>(h.getType()).getShape();
      Value dzMap = b.alloc(pooledMap(hShape, lossKernel), b.builder.getF32Type());
      Value dz = b.rows2d(dzMap);
      for (auto [i, t] : llvm::enumerate(terms))
        if (failed(lowerBilinearTerm(b, t, negatives, dz, /*accumulate=*/i > 0, why)))
          return failure();
      if (b.train())
        unpool(b, dzMap, h, lossKernel, grad);
      return success();
    }
    if (auto goodness = dyn_cast<GoodnessLossOp>(op)) {
      // The generated kernel of the score on the block output seen as
      // [2N, channels, locations], positives in the first half of the rows:
      // FF's G = sum y^2 is one "channel" of every value of a row, SCFF's
      // G = mean_c relu(y)^2 one per location.
      LossAttr attr = goodness.getLoss();
      auto hShape = cast<MemRefType>(h.getType()).getShape();
      Value dh = b.alloc(hShape, b.builder.getF32Type());
      int64_t rows = hShape[0], perRow = hShape[1] * hShape[2] * hShape[3];
      SmallVector<int64_t> view = attr.getScore() == Score::SumSquares
                                      ? SmallVector<int64_t>{rows, perRow, 1}
                                      : SmallVector<int64_t>{rows, hShape[1], hShape[2] * hShape[3]};
      std::string kernel = abi::goodnessLossKernelName(stringifyScore(attr.getScore()).str());
      if (failed(b.callKernel(kernel,
                              {b.reshaped(h, view), b.reshaped(dh, view), b.lossSlot(goodness),
                               b.f64(attr.getThetaValue()), b.f64(attr.getTheta2Value()),
                               b.f64(attr.getLambdaValue()), b.f64(attr.getWeightValue())},
                              why)))
        return failure();
      auto grad = dyn_cast_or_null<LossGradOp>(goodness->getNextNode());
      if (!grad || grad.getLoss() != goodness.getResult()) {
        why.reason = "a goodness loss not followed by its locus.loss_grad";
        return failure();
      }
      b.buffers[grad.getResult()] = dh;
      return success();
    }
    why.reason = ("'" + op->getName().getStringRef() + "' in a block's loss").str();
    return failure();
  }
  why.reason = "a block without locus.loss_grad";
  return failure();
}

} // namespace locus::step
