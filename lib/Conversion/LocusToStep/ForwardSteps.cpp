//===- ForwardSteps.cpp - a block's forward ops as step calls -------------===//
//
// Each forward op becomes one call: conv2d (a backend primitive), the fused
// conv + relu + max-pool (a primitive), relu, triangle and the poolings
// (generated kernels the backend launches). Poolings write an arg-max that
// their adjoint reads; a relu after a conv or pooling overwrites its input.
//
//===----------------------------------------------------------------------===//
#include "StepBuilder.h"

using namespace mlir;

namespace locus::step {

namespace {

/// The buffer for `result`: outside the region if the next block reads it.
Value resultBuffer(StepBuilder &b, Value result) {
  return b.allocActivation(result, result == b.blockOutputRoot);
}

Value indicesLike(StepBuilder &b, Value result) {
  SmallVector<int64_t> shape(cast<ShapedType>(result.getType()).getShape());
  shape[0] *= b.rowFactor;
  return b.alloc(shape, b.builder.getI32Type());
}

template <typename Conv>
LogicalResult convolutionParams(StepBuilder &b, Conv conv, int32_t &weight, int32_t &bias,
                                Unsupported &why) {
  if (llvm::any_of(conv.getDilations(), [](int64_t d) { return d != 1; })) {
    why.reason = "a dilated convolution";
    return failure();
  }
  FailureOr<int32_t> w = b.param(conv.getWeight(), why);
  if (failed(w))
    return failure();
  weight = *w;
  bias = -1;
  if (Value v = conv.getBias()) {
    FailureOr<int32_t> p = b.param(v, why);
    if (failed(p))
      return failure();
    bias = *p;
  }
  return success();
}


} // namespace

LogicalResult lowerForwardOp(StepBuilder &b, Operation &op, Unsupported &why) {
  Value x = b.bufferOf(op.getOperand(0));
  if (!x) {
    why.reason = "an operand defined outside the block";
    return failure();
  }
  Value result = op.getResult(0);
  if (op.getNumResults() != 1 || cast<ShapedType>(result.getType()).getRank() != 4 ||
      cast<ShapedType>(op.getOperand(0).getType()).getRank() != 4) {
    why.reason = ("'" + op.getName().getStringRef() + "' on maps that are not [N, C, H, W]").str();
    return failure();
  }
  if (auto conv = dyn_cast<Conv2DOp>(op)) {
    int32_t weight, bias;
    if (failed(convolutionParams(b, conv, weight, bias, why)))
      return failure();
    auto w = cast<ShapedType>(conv.getWeight().getType()).getShape();
    Value y = resultBuffer(b, result);
    b.call("conv2d_forward",
           withWindow({x, b.i32(weight), b.i32(bias), b.f32(b.biasScale()), y},
                      b.window({w[2], w[3]}, conv.getStrides(), conv.getPads())));
    b.buffers[result] = y;
    return success();
  }
  if (auto fused = dyn_cast<ConvReluMaxPool2DOp>(op)) {
    int32_t weight, bias;
    if (failed(convolutionParams(b, fused, weight, bias, why)))
      return failure();
    Value h = resultBuffer(b, result), indices = indicesLike(b, result);
    b.call("conv_relu_pool_forward",
           {x, b.i32(weight), b.i32(bias), b.f32(b.biasScale()), h, indices});
    b.buffers[result] = h;
    b.argmax[&op] = indices;
    return success();
  }
  if (isa<ReluOp>(op)) {
    Value y = inPlaceSource(&op) ? x : resultBuffer(b, result);
    b.call("relu_forward", {x, y});
    b.buffers[result] = y;
    return success();
  }
  if (isa<TriangleOp>(op)) {
    Value y = resultBuffer(b, result);
    b.call("triangle_forward", {x, y});
    b.buffers[result] = y;
    return success();
  }
  if (auto pool = dyn_cast<MaxPool2DOp>(op)) {
    Value y = resultBuffer(b, result), indices = indicesLike(b, result);
    b.call("max_pool_forward",
           withWindow({x, y, indices},
                      b.window(pool.getKernel(), pool.getStrides(), pool.getPads())));
    b.buffers[result] = y;
    b.argmax[&op] = indices;
    return success();
  }
  if (auto pool = dyn_cast<ReluMaxPool2DOp>(op); pool && adjointInPlace(b, pool)) {
    Value h = resultBuffer(b, result);
    ArrayRef<int64_t> k = pool.getKernel();
    b.call("relu_max_pool_forward_unindexed", {x, h, b.i64(k[0]), b.i64(k[1])});
    b.buffers[result] = h;
    return success();
  }
  if (auto pool = dyn_cast<ReluMaxPool2DOp>(op)) {
    Value h = resultBuffer(b, result), indices = indicesLike(b, result);
    b.call("relu_max_pool_forward",
           withWindow({x, h, indices},
                      b.window(pool.getKernel(), pool.getStrides(), pool.getPads())));
    b.buffers[result] = h;
    b.argmax[&op] = indices;
    return success();
  }
  if (auto pool = dyn_cast<AvgPool2DOp>(op)) {
    if (pool.getCountIncludePad()) {
      why.reason = "average pooling with count_include_pad";
      return failure();
    }
    Value y = resultBuffer(b, result);
    b.call("avg_pool_forward",
           withWindow({x, y}, b.window(pool.getKernel(), pool.getStrides(), pool.getPads())));
    b.buffers[result] = y;
    return success();
  }
  why.reason = ("'" + op.getName().getStringRef() + "' in a block").str();
  return failure();
}

} // namespace locus::step
