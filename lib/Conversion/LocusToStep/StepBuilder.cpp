//===- StepBuilder.cpp - buffers, constants and calls of the step program -===//
#include "StepBuilder.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"

using namespace mlir;

namespace locus::step {

Value StepBuilder::alloc(ArrayRef<int64_t> shape, Type element, bool crossBlock) {
  auto type = MemRefType::get(shape, element);
  if (!crossBlock && !allCrossBlock)
    return memref::AllocOp::create(builder, loc, type);
  OpBuilder::InsertionGuard guard(builder);
  builder.restoreInsertionPoint(crossBlockPoint);
  Value buffer = memref::AllocOp::create(builder, loc, type);
  crossBlockPoint = builder.saveInsertionPoint();
  return buffer;
}

Value StepBuilder::allocLike(Value tensor, bool crossBlock) {
  auto type = cast<ShapedType>(tensor.getType());
  return alloc(type.getShape(), type.getElementType(), crossBlock);
}

Value StepBuilder::allocActivation(Value tensor, bool crossBlock) {
  auto type = cast<ShapedType>(tensor.getType());
  SmallVector<int64_t> shape(type.getShape());
  shape[0] *= rowFactor;
  return alloc(shape, type.getElementType(), crossBlock);
}

namespace {
SmallVector<ReassociationIndices> groups(int64_t rank, int64_t leading) {
  SmallVector<ReassociationIndices> result;
  for (int64_t i = 0; i < leading; ++i)
    result.push_back({i});
  ReassociationIndices rest;
  for (int64_t i = leading; i < rank; ++i)
    rest.push_back(i);
  if (!rest.empty())
    result.push_back(rest);
  return result;
}
} // namespace

Value StepBuilder::rows2d(Value buffer) {
  int64_t rank = cast<MemRefType>(buffer.getType()).getRank();
  if (rank == 2)
    return buffer;
  return memref::CollapseShapeOp::create(builder, loc, buffer, groups(rank, 1));
}

Value StepBuilder::flat(Value buffer) {
  int64_t rank = cast<MemRefType>(buffer.getType()).getRank();
  if (rank == 1)
    return buffer;
  return memref::CollapseShapeOp::create(builder, loc, buffer, groups(rank, 0));
}

Value StepBuilder::reshaped(Value buffer, ArrayRef<int64_t> shape) {
  auto type = cast<MemRefType>(buffer.getType());
  if (type.getShape() == shape)
    return buffer;
  // Through the flat buffer: both shapes are dense row-major.
  Value line = flat(buffer);
  auto target = MemRefType::get(shape, type.getElementType());
  return memref::ExpandShapeOp::create(builder, loc, target, line,
                                       groups(static_cast<int64_t>(shape.size()), 0));
}

Value StepBuilder::leadingRows(Value buffer, int64_t rows) {
  auto type = cast<MemRefType>(buffer.getType());
  const int64_t rest = type.getNumElements() / type.getDimSize(0);
  if (type.getDimSize(0) == rows)
    return rows2d(buffer);
  auto view = MemRefType::get({rows, rest}, type.getElementType());
  return memref::ReinterpretCastOp::create(builder, loc, view, buffer, /*offset=*/0,
                                           ArrayRef<int64_t>{rows, rest},
                                           ArrayRef<int64_t>{rest, 1});
}

void StepBuilder::update(int32_t param, Value grad) {
  if (train())
    pendingUpdates.push_back({param, grad});
}

void StepBuilder::flushUpdates() {
  for (auto [param, grad] : pendingUpdates)
    call("apply_gradient", {i32(param), flat(grad)});
  pendingUpdates.clear();
}

Value StepBuilder::lossSlot(mlir::Operation *term) {
  int64_t slot = lossSlots.lookup(term);
  writtenSlots.insert(slot);
  auto fixed = MemRefType::get(
      {}, builder.getF64Type(), StridedLayoutAttr::get(builder.getContext(), slot, {}));
  Value view = memref::ReinterpretCastOp::create(builder, loc, fixed, losses, slot,
                                                 ArrayRef<int64_t>{}, ArrayRef<int64_t>{});
  auto any = MemRefType::get({}, builder.getF64Type(),
                             StridedLayoutAttr::get(builder.getContext(), ShapedType::kDynamic, {}));
  return memref::CastOp::create(builder, loc, any, view);
}

Value StepBuilder::constantIndices(StringRef symbol, ArrayRef<int32_t> values) {
  auto type = MemRefType::get({static_cast<int64_t>(values.size())}, builder.getI32Type());
  if (!kernels.lookupSymbol<memref::GlobalOp>(symbol)) {
    OpBuilder::InsertionGuard guard(builder);
    builder.setInsertionPointToStart(kernels.getBody());
    auto tensor = RankedTensorType::get(type.getShape(), builder.getI32Type());
    memref::GlobalOp::create(builder, loc, symbol, builder.getStringAttr("private"), type,
                             DenseElementsAttr::get(tensor, values),
                             /*constant=*/true, /*alignment=*/nullptr);
  }
  return memref::GetGlobalOp::create(builder, loc, type, symbol);
}

Value StepBuilder::i32(int64_t v) {
  return arith::ConstantOp::create(builder, loc, builder.getI32IntegerAttr(v));
}
Value StepBuilder::i64(int64_t v) {
  return arith::ConstantOp::create(builder, loc, builder.getI64IntegerAttr(v));
}
Value StepBuilder::f32(double v) {
  return arith::ConstantOp::create(builder, loc, builder.getF32FloatAttr(static_cast<float>(v)));
}
Value StepBuilder::f64(double v) {
  return arith::ConstantOp::create(builder, loc, builder.getF64FloatAttr(v));
}

SmallVector<Value> StepBuilder::window(ArrayRef<int64_t> kernel, ArrayRef<int64_t> strides,
                                       ArrayRef<int64_t> pads) {
  SmallVector<Value> w;
  for (int64_t v : kernel)
    w.push_back(i64(v));
  for (int64_t v : strides)
    w.push_back(i64(v));
  for (int64_t i = 0; i < 4; ++i)
    w.push_back(i64(i < static_cast<int64_t>(pads.size()) ? pads[i] : 0));
  return w;
}

void StepBuilder::call(StringRef name, ArrayRef<Value> operands) {
  SmallVector<Value> args{ctx};
  for (Value v : operands) {
    if (auto type = dyn_cast<MemRefType>(v.getType())) {
      SmallVector<int64_t> dynamic(type.getRank(), ShapedType::kDynamic);
      v = memref::CastOp::create(builder, loc, MemRefType::get(dynamic, type.getElementType()), v);
    }
    args.push_back(v);
  }
  std::string symbol = ("locus_rt_" + name).str();
  auto type = builder.getFunctionType(ValueRange(args).getTypes(), {});
  if (!kernels.lookupSymbol<func::FuncOp>(symbol)) {
    OpBuilder::InsertionGuard guard(builder);
    builder.setInsertionPointToStart(kernels.getBody());
    auto decl = func::FuncOp::create(builder, loc, symbol, type);
    decl.setPrivate();
    decl->setAttr("llvm.emit_c_interface", builder.getUnitAttr());
  }
  func::CallOp::create(builder, loc, symbol, TypeRange{}, args);
}

LogicalResult StepBuilder::callKernel(StringRef name, ArrayRef<Value> operands,
                                      Unsupported &why) {
  auto kernel = kernels.lookupSymbol<func::FuncOp>(name);
  if (!kernel || kernel.getNumArguments() != operands.size()) {
    why.reason = ("no generated kernel @" + name +
                  " of this signature (the kernel generators run before locus-lower-to-step)")
                     .str();
    return failure();
  }
  SmallVector<Value> args;
  for (auto [v, type] : llvm::zip_equal(operands, kernel.getArgumentTypes()))
    args.push_back(v.getType() == type ? v : memref::CastOp::create(builder, loc, type, v));
  func::CallOp::create(builder, loc, kernel, args);
  return success();
}

FailureOr<int32_t> StepBuilder::param(Value v, Unsupported &why) {
  auto op = v ? v.getDefiningOp<ParamOp>() : ParamOp();
  if (!op) {
    why.reason = "a trained value that is not a locus.param";
    return failure();
  }
  auto it = paramIndex.find(op.getName());
  if (it == paramIndex.end()) {
    why.reason = ("parameter '" + op.getName() + "' is not in the model descriptor").str();
    return failure();
  }
  return it->second;
}

Value StepBuilder::bufferOf(Value tensor) { return buffers.lookup(tensor); }

Value inPlaceSource(Operation *op) {
  // A relu overwrites its input when nothing else reads that buffer later:
  // a conv's or a pooling's output (they save their input or arg-max, not
  // their output), the usual conv -> relu.
  if (!isa_and_nonnull<ReluOp>(op))
    return {};
  Value x = op->getOperand(0);
  Operation *def = x.getDefiningOp();
  if (!isa_and_nonnull<Conv2DOp, MaxPool2DOp, AvgPool2DOp>(def))
    return {};
  // Their adjoints name the output only to find the op.
  for (Operation *user : x.getUsers())
    if (user != op && !isa<VjpOp, ParamVjpOp>(user))
      return {};
  return x;
}

bool adjointInPlace(const StepBuilder &b, ReluMaxPool2DOp pool) {
  // Global mode keeps a block's buffers until the backward pass: a (the
  // conv output) is larger than h and its arg-max together.
  if (b.allCrossBlock)
    return false;
  // The kernels without an arg-max exist for these windows only
  // (locus-generate-relu-pool-kernels asks the same op method).
  if (!pool.windowsCoverInput())
    return false;
  Value a = pool.getInput();
  if (!isa_and_nonnull<Conv2DOp>(a.getDefiningOp()))
    return false;
  for (Operation *user : a.getUsers())
    if (user != pool.getOperation() && !isa<VjpOp, ParamVjpOp>(user))
      return false;
  return true;
}

} // namespace locus::step
