//===- AdjointSteps.cpp - vjps, parameter gradients and updates as calls --===//
//
// locus.vjp reads what its forward op saved: a relu its output (and runs in
// place on the incoming gradient), a max pooling its arg-max, the fused
// relu + max-pool its output and arg-max, a triangle its input, a conv its
// weight (global mode). locus.param_vjp is a conv's weight (and bias)
// gradient, from its input, or for the fused conv + relu + max-pool from its
// input, output and arg-max. locus.update hands a complete gradient to the
// step's optimizer (queued: StepBuilder::update). In global mode
// locus.output_grad is the gradient the block above passed down with
// locus.input_grad.
//
//===----------------------------------------------------------------------===//
#include "StepBuilder.h"

using namespace mlir;

namespace locus::step {

namespace {

LogicalResult lowerVjp(StepBuilder &b, VjpOp vjp, Unsupported &why) {
  Operation *forward = vjp.getValue().getDefiningOp();
  Value dy = b.bufferOf(vjp.getGrad()), y = b.bufferOf(vjp.getValue());
  Value result = vjp.getInputGrad();
  if (!forward || !dy || !y) {
    why.reason = "a vjp of a value that is not a layer of the block";
    return failure();
  }
  Value x = b.bufferOf(forward->getOperand(0));
  if (auto pool = dyn_cast<ReluMaxPool2DOp>(forward); pool && adjointInPlace(b, pool)) {
    // da takes a's place (a is read for the arg-max, then overwritten).
    ArrayRef<int64_t> k = pool.getKernel();
    b.call("relu_max_pool_backward_in_place", {dy, x, b.i64(k[0]), b.i64(k[1])});
    b.buffers[result] = x;
    return success();
  }
  if (isa<ReluOp>(forward)) {
    Value dx = vjp.getGrad().hasOneUse() ? dy : b.allocActivation(result);
    b.call("relu_backward", {y, dy, dx});
    b.buffers[result] = dx;
    return success();
  }
  Value dx = b.allocActivation(result);
  b.buffers[result] = dx;
  if (isa<TriangleOp>(forward)) {
    b.call("triangle_backward", {x, dy, dx});
    return success();
  }
  if (isa<MaxPool2DOp>(forward)) {
    b.call("max_pool_backward", {dy, b.argmax.lookup(forward), dx});
    return success();
  }
  if (auto pool = dyn_cast<ReluMaxPool2DOp>(forward)) {
    b.call("relu_max_pool_backward",
           withWindow({dy, y, b.argmax.lookup(forward), dx},
                      b.window(pool.getKernel(), pool.getStrides(), pool.getPads())));
    return success();
  }
  if (auto pool = dyn_cast<AvgPool2DOp>(forward)) {
    b.call("avg_pool_backward",
           withWindow({dy, dx}, b.window(pool.getKernel(), pool.getStrides(), pool.getPads())));
    return success();
  }
  if (auto conv = dyn_cast<Conv2DOp>(forward)) {
    FailureOr<int32_t> weight = b.param(conv.getWeight(), why);
    if (failed(weight))
      return failure();
    auto w = cast<ShapedType>(conv.getWeight().getType()).getShape();
    b.call("conv2d_backward_data",
           withWindow({dy, b.i32(*weight), dx},
                      b.window({w[2], w[3]}, conv.getStrides(), conv.getPads())));
    return success();
  }
  why.reason = ("the vjp of '" + forward->getName().getStringRef() + "'").str();
  return failure();
}

LogicalResult lowerParamVjp(StepBuilder &b, ParamVjpOp vjp, Unsupported &why) {
  Operation *forward = vjp.getValue().getDefiningOp();
  Value dy = b.bufferOf(vjp.getGrad());
  if (!forward || !dy || vjp.getParamGrads().empty()) {
    why.reason = "a parameter vjp of a value that is not a layer of the block";
    return failure();
  }
  Value x = b.bufferOf(forward->getOperand(0));
  Value dw = b.allocLike(vjp.getParamGrads()[0]);
  bool hasBias = vjp.getParamGrads().size() > 1;
  Value db = hasBias ? b.allocLike(vjp.getParamGrads()[1])
                     : b.alloc({0}, b.builder.getF32Type());
  b.buffers[vjp.getParamGrads()[0]] = dw;
  if (hasBias)
    b.buffers[vjp.getParamGrads()[1]] = db;
  if (auto conv = dyn_cast<Conv2DOp>(forward)) {
    auto w = cast<ShapedType>(conv.getWeight().getType()).getShape();
    b.call("conv2d_backward_weight",
           withWindow({x, dy, dw, db, b.i32(hasBias), b.f32(b.biasScale())},
                      b.window({w[2], w[3]}, conv.getStrides(), conv.getPads())));
    return success();
  }
  if (isa<ConvReluMaxPool2DOp>(forward)) {
    b.call("conv_relu_pool_backward_weight",
           {x, dy, b.bufferOf(vjp.getValue()), b.argmax.lookup(forward), dw, db, b.i32(hasBias),
            b.f32(b.biasScale())});
    return success();
  }
  why.reason = ("the parameter vjp of '" + forward->getName().getStringRef() + "'").str();
  return failure();
}
} // namespace

LogicalResult lowerAdjointOp(StepBuilder &b, Operation &op, Unsupported &why) {
  if (auto vjp = dyn_cast<VjpOp>(op))
    return lowerVjp(b, vjp, why);
  if (auto vjp = dyn_cast<ParamVjpOp>(op))
    return lowerParamVjp(b, vjp, why);
  if (auto update = dyn_cast<UpdateOp>(op)) {
    FailureOr<int32_t> param = b.param(update.getParam(), why);
    Value grad = b.bufferOf(update.getGrad());
    if (failed(param))
      return failure();
    if (!grad) {
      why.reason = "an update whose gradient the block does not compute";
      return failure();
    }
    b.update(*param, grad);
    return success();
  }
  if (auto grad = dyn_cast<OutputGradOp>(op)) {
    if (!b.outputGrad) {
      why.reason = "a block below the top without the gradient of the block above";
      return failure();
    }
    b.buffers[grad.getGrad()] = b.outputGrad;
    return success();
  }
  if (auto grad = dyn_cast<InputGradOp>(op)) {
    b.inputGrad = b.bufferOf(grad.getGrad());
    return success();
  }
  if (isa<YieldOp>(op))
    return success();
  why.reason = ("'" + op.getName().getStringRef() + "' in a block's backward pass").str();
  return failure();
}

} // namespace locus::step
