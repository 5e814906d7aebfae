//===- LocusOps.cpp - verifiers and shape inference of the locus ops ------===//
#include "locus/Dialect/Locus/IR/LocusOps.h"
#include "locus/Dialect/Locus/IR/LossGeometry.h"
#include "ShapeFunctions.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/StringMap.h"

using namespace mlir;
using namespace locus;

#include "locus/Dialect/Locus/IR/LocusInterfaces.cpp.inc"

#define GET_OP_CLASSES
#include "locus/Dialect/Locus/IR/LocusOps.cpp.inc"

namespace {
bool isStatic(Value v) {
  auto type = dyn_cast<RankedTensorType>(v.getType());
  return type && type.hasStaticShape();
}

/// When every operand is static, the ranked result (if any) must match the
/// shape the op's shape function computes.
template <typename OpT>
LogicalResult verifyResultShape(OpT op) {
  if (!llvm::all_of(op->getOperands(), isStatic))
    return success();
  FailureOr<Shape> expected = computeResultShape(op);
  if (failed(expected))
    return failure();
  auto result = cast<TensorType>(op.getResult().getType());
  if (result.hasRank() && result.getShape() != ArrayRef<int64_t>(*expected)) {
    auto want = RankedTensorType::get(*expected, result.getElementType());
    return op.emitOpError() << "result type " << result
                            << " does not match the inferred " << want;
  }
  return success();
}

/// `inferShapes`: every operand must already be static; then set the result.
template <typename OpT>
LogicalResult inferResultShape(OpT op) {
  for (auto [i, operand] : llvm::enumerate(op->getOperands()))
    if (!isStatic(operand))
      return op.emitOpError() << "operand " << i << " has no static shape ("
                              << operand.getType() << ")";
  FailureOr<Shape> shape = computeResultShape(op);
  if (failed(shape))
    return failure();
  auto result = cast<TensorType>(op.getResult().getType());
  auto inferred = RankedTensorType::get(*shape, result.getElementType());
  if (result.hasRank() && result != inferred)
    return op.emitOpError() << "declared result type " << result
                            << " disagrees with the inferred " << inferred;
  op.getResult().setType(inferred);
  return success();
}
} // namespace

#define LOCUS_SHAPED_OP(OpT)                                                   \
  LogicalResult OpT::inferShapes() { return inferResultShape(*this); }

LOCUS_SHAPED_OP(Conv2DOp)
LOCUS_SHAPED_OP(ReluOp)
LOCUS_SHAPED_OP(TriangleOp)
LOCUS_SHAPED_OP(StandardizeOp)
LOCUS_SHAPED_OP(LengthNormalizeOp)
LOCUS_SHAPED_OP(MaxPool2DOp)
LOCUS_SHAPED_OP(ReluMaxPool2DOp)
LOCUS_SHAPED_OP(ConvReluMaxPool2DOp)
LOCUS_SHAPED_OP(AvgPool2DOp)
LOCUS_SHAPED_OP(GlobalAvgPoolOp)
LOCUS_SHAPED_OP(FlattenOp)
LOCUS_SHAPED_OP(ReshapeOp)
LOCUS_SHAPED_OP(LinearOp)
LOCUS_SHAPED_OP(AddOp)
LOCUS_SHAPED_OP(ConcatOp)
LOCUS_SHAPED_OP(LocalLossOp)
#undef LOCUS_SHAPED_OP

//===----------------------------------------------------------------------===//
// Verifiers
//===----------------------------------------------------------------------===//

LogicalResult ParamOp::verify() {
  auto type = cast<TensorType>(getResult().getType());
  if (!type.hasStaticShape())
    return emitOpError() << "parameter '" << getName()
                         << "' needs a static shape, got " << type;
  Init init = getInit();
  if ((init == Init::KaimingUniform || init == Init::FanInUniform) &&
      (!getFanIn() || *getFanIn() < 1))
    return emitOpError() << "parameter '" << getName() << "' with init "
                         << stringifyInit(init) << " needs a positive fan_in";
  if (init == Init::Value) {
    if (!getValue())
      return emitOpError() << "parameter '" << getName()
                           << "' with init value needs a 'value' attribute";
    if (getValue()->getType() != type)
      return emitOpError() << "parameter '" << getName() << "' value has type "
                           << getValue()->getType() << ", expected " << type;
  } else if (getValue()) {
    return emitOpError() << "parameter '" << getName()
                         << "' has a value but init "
                         << stringifyInit(init);
  }
  return success();
}

LogicalResult Conv2DOp::verify() {
  if (failed(verifyWindowAttrs(*this, {1, 1}, getStrides(), getPads(),
                               getDilations())))
    return failure();
  return verifyResultShape(*this);
}

LogicalResult MaxPool2DOp::verify() {
  if (failed(verifyWindowAttrs(*this, getKernel(), getStrides(), getPads(),
                               {1, 1})))
    return failure();
  return verifyResultShape(*this);
}

LogicalResult ReluMaxPool2DOp::verify() {
  if (failed(verifyWindowAttrs(*this, getKernel(), getStrides(), getPads(),
                               {1, 1})))
    return failure();
  return verifyResultShape(*this);
}

bool ReluMaxPool2DOp::windowsTileInput() {
  auto in = cast<ShapedType>(getInput().getType());
  ArrayRef<int64_t> k = getKernel(), s = getStrides(), p = getPads();
  return in.hasStaticShape() && in.getRank() == 4 && k.size() == 2 && s.size() == 2 &&
         p.size() == 4 && k[0] == s[0] && k[1] == s[1] &&
         llvm::all_of(p, [](int64_t v) { return v == 0; });
}

bool ReluMaxPool2DOp::windowsCoverInput() {
  auto in = cast<ShapedType>(getInput().getType());
  return windowsTileInput() && in.getDimSize(2) % getKernel()[0] == 0 &&
         in.getDimSize(3) % getKernel()[1] == 0;
}

LogicalResult ConvReluMaxPool2DOp::verify() {
  if (failed(verifyWindowAttrs(*this, {1, 1}, getStrides(), getPads(),
                               getDilations())) ||
      failed(verifyWindowAttrs(*this, getPoolKernel(), getPoolStrides(),
                               getPoolPads(), {1, 1})))
    return failure();
  return verifyResultShape(*this);
}

LogicalResult AvgPool2DOp::verify() {
  if (failed(verifyWindowAttrs(*this, getKernel(), getStrides(), getPads(),
                               {1, 1})))
    return failure();
  return verifyResultShape(*this);
}

LogicalResult ReluOp::verify() { return verifyResultShape(*this); }
LogicalResult TriangleOp::verify() { return verifyResultShape(*this); }
LogicalResult GlobalAvgPoolOp::verify() { return verifyResultShape(*this); }
LogicalResult FlattenOp::verify() { return verifyResultShape(*this); }
LogicalResult ReshapeOp::verify() { return verifyResultShape(*this); }
LogicalResult LinearOp::verify() { return verifyResultShape(*this); }
LogicalResult AddOp::verify() { return verifyResultShape(*this); }
LogicalResult ConcatOp::verify() { return verifyResultShape(*this); }

LogicalResult StandardizeOp::verify() {
  if (getEps().convertToDouble() <= 0.0)
    return emitOpError("eps must be positive");
  return verifyResultShape(*this);
}

LogicalResult LengthNormalizeOp::verify() {
  if (getEps().convertToDouble() <= 0.0)
    return emitOpError("eps must be positive");
  return verifyResultShape(*this);
}

//===----------------------------------------------------------------------===//
// local_loss: the rule against the network
//===----------------------------------------------------------------------===//

SmallVector<LocalLossOp> locus::getLearningBlocks(Operation *op) {
  Operation *scope = op->getParentWithTrait<OpTrait::IsIsolatedFromAbove>();
  if (!scope)
    scope = op;
  SmallVector<LocalLossOp> blocks;
  scope->walk<WalkOrder::PreOrder>([&](LocalLossOp marker) {
    blocks.push_back(marker);
  });
  return blocks;
}

namespace {
/// Checks that a loss pooling kernel fits the [N,C,H,W] map of `block`.
LogicalResult verifyPoolFits(LocalLossOp op, StringRef what, StringRef block,
                             int64_t kernel, Type mapType) {
  auto map = dyn_cast<RankedTensorType>(mapType);
  if (kernel == LossAttr::kPoolNone || kernel == LossAttr::kPoolAuto || !map)
    return success();
  if (map.getRank() != 4)
    return op.emitOpError() << "block '" << op.getBlock() << "': " << what
                            << " needs a feature map [N,C,H,W], but block '"
                            << block << "' outputs " << map;
  if (kernel == LossAttr::kPoolGlobal)
    return success();
  int64_t h = map.getDimSize(2), w = map.getDimSize(3);
  if (ShapedType::isDynamic(h) || ShapedType::isDynamic(w))
    return success();
  if (kernel > h || kernel > w)
    return op.emitOpError() << "block '" << op.getBlock() << "': " << what
                            << " kernel " << kernel
                            << " is larger than the " << h << "x" << w
                            << " feature map of block '" << block << "'";
  return success();
}
} // namespace

LogicalResult LocalLossOp::verify() {
  if (getBlock().empty())
    return emitOpError("needs a non-empty block name");
  Type inType = getInput().getType(), outType = getResult().getType();
  if (isa<RankedTensorType>(inType) && isa<RankedTensorType>(outType) &&
      inType != outType)
    return emitOpError() << "block '" << getBlock()
                         << "': the result must have the input's type "
                         << inType << ", got " << outType;
  LossAttr loss = getLoss();
  if (failed(verifyPoolFits(*this, "loss pooling", getBlock(), loss.getPool(),
                            inType)))
    return failure();

  // Everything below relates this block to its siblings.
  // Everything below relates this block to its siblings; a conflict is
  // reported at the later of the two blocks.
  SmallVector<LocalLossOp> blocks = getLearningBlocks(getOperation());
  int64_t self = llvm::find(blocks, *this) - blocks.begin();
  for (LocalLossOp earlier : ArrayRef<LocalLossOp>(blocks).take_front(self)) {
    if (earlier.getBlock() == getBlock())
      return emitOpError() << "block name '" << getBlock()
                           << "' is used by more than one block";
    if (earlier.getLoss().getMode() != loss.getMode())
      return emitOpError() << "block '" << getBlock() << "' trains in "
                           << stringifyTrainingMode(loss.getMode())
                           << " mode but block '" << earlier.getBlock()
                           << "' in "
                           << stringifyTrainingMode(earlier.getLoss().getMode())
                           << " mode; a network has one mode";
  }
  if (!loss.usesLaterContext())
    return success();

  // Direct feedback: the context comes from the named block, by default the
  // top (last) one, which must not come before this block.
  int64_t source = blocks.size() - 1;
  StringRef sourceName = loss.getContextBlock();
  if (!sourceName.empty()) {
    auto *it = llvm::find_if(
        blocks, [&](LocalLossOp b) { return b.getBlock() == sourceName; });
    if (it == blocks.end())
      return emitOpError() << "block '" << getBlock()
                           << "': context block '" << sourceName
                           << "' does not exist";
    source = it - blocks.begin();
    if (source <= self)
      return emitOpError() << "block '" << getBlock()
                           << "': a direct-feedback context must come from a "
                              "later block, but '"
                           << sourceName << "' is block " << source + 1
                           << " and this is block " << self + 1;
  }
  LocalLossOp context = blocks[source];
  int64_t kernel = loss.getContextPool() == LossAttr::kPoolAuto
                       ? context.getLoss().getPool()
                       : loss.getContextPool();
  return verifyPoolFits(*this, "context pooling", context.getBlock(), kernel,
                        context.getInput().getType());
}

//===----------------------------------------------------------------------===//
// block
//===----------------------------------------------------------------------===//

void BlockOp::build(OpBuilder &builder, OperationState &state, StringRef name,
                    Value input, Type resultType) {
  state.addAttribute(getNameAttrName(state.name), builder.getStringAttr(name));
  state.addOperands(input);
  state.addTypes(resultType);
  Region *body = state.addRegion();
  body->push_back(new Block());
  body->front().addArgument(input.getType(), input.getLoc());
}

LocalLossOp BlockOp::getMarker() {
  auto yield = dyn_cast<YieldOp>(getBody().front().getTerminator());
  return yield ? yield.getValue().getDefiningOp<LocalLossOp>() : LocalLossOp();
}

LogicalResult BlockOp::verify() {
  Block &body = getBody().front();
  if (body.getNumArguments() != 1 ||
      body.getArgument(0).getType() != getInput().getType())
    return emitOpError() << "block '" << getName()
                         << "': the body takes the block input ("
                         << getInput().getType() << ") as its one argument";
  auto yield = dyn_cast<YieldOp>(body.getTerminator());
  if (!yield)
    return emitOpError() << "block '" << getName()
                         << "': the body must end in locus.yield";
  if (yield.getValue().getType() != getResult().getType())
    return emitOpError() << "block '" << getName() << "': yields "
                         << yield.getValue().getType() << " but the result is "
                         << getResult().getType();
  LocalLossOp marker = getMarker();
  if (!marker || marker->getParentOp() != getOperation())
    return emitOpError() << "block '" << getName()
                         << "': must yield its own locus.local_loss marker";
  if (marker.getBlock() != getName())
    return emitOpError() << "block '" << getName() << "' yields the marker of '"
                         << marker.getBlock() << "'";
  return success();
}

//===----------------------------------------------------------------------===//
// The block step
//===----------------------------------------------------------------------===//

SmallVector<Value> Conv2DOp::getTrainableOperands() {
  SmallVector<Value> operands{getWeight()};
  if (Value bias = getBias())
    operands.push_back(bias);
  return operands;
}

SmallVector<Value> ConvReluMaxPool2DOp::getTrainableOperands() {
  SmallVector<Value> operands{getWeight()};
  if (Value bias = getBias())
    operands.push_back(bias);
  return operands;
}

namespace {
/// The differentiable op defining `value`, whose gradient `grad` must have
/// its type, or an error on the adjoint op `user`.
FailureOr<DifferentiableOpInterface> adjointOf(Operation *user, Value value, Value grad) {
  auto def = value.getDefiningOp<DifferentiableOpInterface>();
  if (!def)
    return user->emitOpError("operand #0 must be the result of an op with a "
                             "gradient (DifferentiableOpInterface)");
  if (grad.getType() != value.getType())
    return user->emitOpError() << "gradient type " << grad.getType()
                               << " differs from the value type " << value.getType();
  return def;
}
} // namespace

LogicalResult LossGradOp::verify() {
  Operation *def = getLoss().getDefiningOp();
  if (!def || !isa<BilinearLossOp, GoodnessLossOp, InfoNceLossOp, LossSumOp>(def))
    return emitOpError("differentiates a block loss: its operand must be the "
                       "result of a loss op (locus-expand-rules)");
  return success();
}

LogicalResult LossPoolOp::verify() {
  auto in = dyn_cast<RankedTensorType>(getInput().getType());
  auto out = dyn_cast<RankedTensorType>(getResult().getType());
  if (!in || !out || !in.hasStaticShape() || in.getRank() < 2)
    return emitOpError("pools a static block output of rank 2 or more");
  int64_t k = getKernel();
  if (in.getRank() != 4 && k != LossAttr::kPoolNone)
    return emitOpError() << "kernel " << k << " needs an [N, C, H, W] map; a map of rank "
                         << in.getRank() << " can only be flattened (kernel -1)";
  if (in.getRank() == 4 && (k < -1 || k > in.getDimSize(2) || k > in.getDimSize(3)))
    return emitOpError() << "kernel " << k << " does not fit the "
                         << in.getDimSize(2) << "x" << in.getDimSize(3) << " map";
  int64_t d = pooledDim(in, k);
  if (out.getRank() != 2 || out.getDimSize(0) != in.getDimSize(0) || out.getDimSize(1) != d)
    return emitOpError() << "result type " << out << " should be [" << in.getDimSize(0)
                         << ", " << d << "]";
  return success();
}

LogicalResult BilinearLossOp::verify() {
  auto z = dyn_cast<RankedTensorType>(getZ().getType());
  auto c = dyn_cast<RankedTensorType>(getContext().getType());
  if (!z || !c || z.getRank() != 2 || c.getRank() != 2 || z.getDimSize(0) != c.getDimSize(0))
    return emitOpError("needs z [N, D] and a context [N, Dc] with the same rows");
  if (Value b = getProjection()) {
    auto proj = cast<ShapedType>(b.getType());
    if (proj.getRank() != 2 || proj.getDimSize(0) != z.getDimSize(1) ||
        proj.getDimSize(1) != c.getDimSize(1))
      return emitOpError() << "projection " << proj << " is not [" << z.getDimSize(1) << ", "
                           << c.getDimSize(1) << "]";
  } else if (z.getDimSize(1) != c.getDimSize(1)) {
    return emitOpError("an identity projection needs D = Dc");
  }
  return success();
}

LogicalResult VjpOp::verify() {
  FailureOr<DifferentiableOpInterface> def = adjointOf(*this, getValue(), getGrad());
  if (failed(def))
    return failure();
  if (isa<ConvReluMaxPool2DOp>(*def))
    return emitOpError("differentiates locus.conv_relu_max_pool2d with respect to its "
                       "input, which the fused op does not provide (locus-fuse-conv-relu-pool "
                       "fuses only where that gradient is not needed)");
  Type input = (*def)->getOperand(0).getType();
  if (getInputGrad().getType() != input)
    return emitOpError() << "result type " << getInputGrad().getType()
                         << " differs from the data input type " << input;
  return success();
}

LogicalResult ParamVjpOp::verify() {
  FailureOr<DifferentiableOpInterface> def = adjointOf(*this, getValue(), getGrad());
  if (failed(def))
    return failure();
  SmallVector<Value> trainable = def->getTrainableOperands();
  if (trainable.size() != getParamGrads().size())
    return emitOpError() << "has " << getParamGrads().size() << " results for "
                         << trainable.size() << " trainable operands";
  for (auto [operand, grad] : llvm::zip(trainable, getParamGrads()))
    if (operand.getType() != grad.getType())
      return emitOpError() << "gradient type " << grad.getType()
                           << " differs from its parameter's " << operand.getType();
  return success();
}

LogicalResult UpdateOp::verify() {
  if (!getParam().getDefiningOp<ParamOp>())
    return emitOpError("updates a locus.param");
  return success();
}
