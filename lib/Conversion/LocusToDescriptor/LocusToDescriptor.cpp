//===- LocusToDescriptor.cpp - locus.block ops to the runtime descriptor --===//
//
// Each block's body becomes the runtime's layer list; each loss its LossDesc
// with the sizes resolved (D_l, D_ctx, the context block's index and kernel);
// the projections B become parameters named "<block>.B" (and "<block>.B_lat"),
// initialised like a PyTorch nn.Linear without bias. Ops the CPU runtime does
// not execute inside a block are errors here, at the op, not later at run time.
//
//===----------------------------------------------------------------------===//
#include "locus/Conversion/LocusToDescriptor.h"

#include "locus/Dialect/Locus/IR/GoodnessInput.h"
#include "locus/Dialect/Locus/IR/LocusOps.h"
#include "locus/Dialect/Locus/IR/LossGeometry.h"
#include "locus/runtime/ModelDescriptor.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringMap.h"

using namespace mlir;
using namespace locus;

namespace {
std::array<int64_t, 4> shape4(Type type) {
  std::array<int64_t, 4> s{1, 1, 1, 1};
  ArrayRef<int64_t> dims = cast<ShapedType>(type).getShape();
  // [N, D] maps are stored as [N, D, 1, 1].
  for (size_t i = 0; i < dims.size() && i < 4; ++i)
    s[i] = dims[i];
  return s;
}

rt::ParamInit toRuntime(Init init) {
  switch (init) {
  case Init::KaimingUniform:
    return rt::ParamInit::KaimingUniform;
  case Init::FanInUniform:
    return rt::ParamInit::FanInUniform;
  case Init::Zeros:
    return rt::ParamInit::Zeros;
  case Init::Value:
    return rt::ParamInit::Value;
  }
  return rt::ParamInit::Zeros;
}

class DescriptorBuilder {
public:
  explicit DescriptorBuilder(rt::ModelDesc &model) : model(model) {}

  LogicalResult run(ModuleOp module);

private:
  int32_t addParam(ParamOp param);
  LogicalResult addLayer(Operation &op, rt::BlockDesc &block);
  LogicalResult checkGradients(BlockOp op);
  LogicalResult addLoss(BlockOp op, LocalLossOp marker, int64_t index, rt::BlockDesc &block);
  LogicalResult addBlock(BlockOp op, int64_t index);
  void addGoodnessInput(BlockOp op, int64_t index, rt::BlockDesc &block);

  rt::ModelDesc &model;
  GoodnessInput goodness = GoodnessInput::None;
  llvm::StringMap<int32_t> blockIndex;
  llvm::DenseMap<Operation *, int32_t> paramIndex;
};

int32_t DescriptorBuilder::addParam(ParamOp param) {
  auto [it, inserted] = paramIndex.try_emplace(param, model.params.size());
  if (!inserted)
    return it->second;
  rt::ParamDesc p;
  p.name = param.getName().str();
  auto type = cast<ShapedType>(param.getType());
  p.shape.assign(type.getShape().begin(), type.getShape().end());
  p.init = toRuntime(param.getInit());
  p.fanIn = param.getFanIn().value_or(0);
  if (param.getInit() == Init::Value) {
    auto dense = cast<DenseElementsAttr>(*param.getValue());
    for (APFloat v : dense.getValues<APFloat>())
      p.value.push_back(v.convertToFloat());
  }
  model.params.push_back(std::move(p));
  return it->second;
}


LogicalResult DescriptorBuilder::addLayer(Operation &op, rt::BlockDesc &block) {
  rt::LayerDesc layer;
  layer.inShape = shape4(op.getOperand(0).getType());
  layer.outShape = shape4(op.getResult(0).getType());
  auto window = [&](ArrayRef<int64_t> kernel, ArrayRef<int64_t> strides,
                    ArrayRef<int64_t> pads) {
    std::copy(kernel.begin(), kernel.end(), layer.kernel.begin());
    std::copy(strides.begin(), strides.end(), layer.stride.begin());
    std::copy(pads.begin(), pads.end(), layer.pad.begin());
  };
  // A convolution's parameters and window (conv2d, conv_relu_max_pool2d).
  auto convolution = [&](auto conv, rt::LayerKind kind) -> LogicalResult {
    if (llvm::any_of(conv.getDilations(), [](int64_t d) { return d != 1; }))
      return conv.emitOpError("dilated convolutions are not supported by the "
                              "CPU runtime yet");
    auto weight = conv.getWeight().template getDefiningOp<ParamOp>();
    if (!weight)
      return conv.emitOpError("the weight must be a locus.param");
    layer.kind = kind;
    layer.weight = addParam(weight);
    if (Value bias = conv.getBias()) {
      auto biasParam = bias.template getDefiningOp<ParamOp>();
      if (!biasParam)
        return conv.emitOpError("the bias must be a locus.param");
      layer.bias = addParam(biasParam);
    }
    auto w = cast<ShapedType>(weight.getType()).getShape();
    window({w[2], w[3]}, conv.getStrides(), conv.getPads());
    return success();
  };
  if (auto conv = dyn_cast<Conv2DOp>(op)) {
    if (failed(convolution(conv, rt::LayerKind::Conv2D)))
      return failure();
  } else if (auto fused = dyn_cast<ConvReluMaxPool2DOp>(op)) {
    if (failed(convolution(fused, rt::LayerKind::ConvReluMaxPool2D)))
      return failure();
    if (llvm::any_of(fused.getPoolPads(), [](int64_t p) { return p != 0; }))
      return fused.emitOpError("padded pooling is not supported by the fused CPU kernels");
    std::copy(fused.getPoolKernel().begin(), fused.getPoolKernel().end(),
              layer.poolKernel.begin());
    std::copy(fused.getPoolStrides().begin(), fused.getPoolStrides().end(),
              layer.poolStride.begin());
  } else if (isa<ReluOp>(op)) {
    layer.kind = rt::LayerKind::Relu;
  } else if (auto pool = dyn_cast<MaxPool2DOp>(op)) {
    layer.kind = rt::LayerKind::MaxPool2D;
    window(pool.getKernel(), pool.getStrides(), pool.getPads());
  } else if (auto pool = dyn_cast<ReluMaxPool2DOp>(op)) {
    layer.kind = rt::LayerKind::ReluMaxPool2D;
    window(pool.getKernel(), pool.getStrides(), pool.getPads());
  } else if (auto pool = dyn_cast<AvgPool2DOp>(op)) {
    if (pool.getCountIncludePad())
      return pool.emitOpError("count_include_pad is not supported by the CPU "
                              "runtime yet");
    layer.kind = rt::LayerKind::AvgPool2D;
    window(pool.getKernel(), pool.getStrides(), pool.getPads());
  } else if (isa<TriangleOp>(op)) {
    layer.kind = rt::LayerKind::Triangle;
  } else if (auto norm = dyn_cast<StandardizeOp>(op)) {
    layer.kind = rt::LayerKind::Standardize;
    layer.eps = norm.getEps().convertToDouble();
  } else if (auto norm = dyn_cast<LengthNormalizeOp>(op)) {
    layer.kind = rt::LayerKind::LengthNormalize;
    layer.eps = norm.getEps().convertToDouble();
  } else {
    return op.emitOpError("is not supported inside a learning block by the "
                          "CPU runtime yet");
  }
  block.layers.push_back(layer);
  return success();
}

LogicalResult DescriptorBuilder::checkGradients(BlockOp op) {
  // The descriptor does not carry the backward pass (the step program runs
  // it), but a block without one was never differentiated.
  for (Operation &inner : op.getBody().front())
    if (isa<LossGradOp, OutputGradOp>(inner))
      return success();
  return op.emitOpError() << "block '" << op.getName()
                          << "' has no gradients; run locus-derive-block-gradients";
}

/// The loss as locus-expand-rules wrote it: the pooling, the context and
/// the parameters come from the ops, f and its constants from the loss op's
/// rule. A block without loss ops (below the top of a global rule) keeps the
/// marker's rule for the record; nothing optimises it.
LogicalResult DescriptorBuilder::addLoss(BlockOp op, LocalLossOp marker, int64_t index,
                                         rt::BlockDesc &block) {
  rt::LossDesc &d = block.loss;
  auto describe = [&](LossAttr loss) {
    d.rule = loss.getRule().str();
    d.score = stringifyScore(loss.getScore()).str();
    d.f = stringifyLossFunction(loss.getF()).str();
    d.form = stringifyLossForm(loss.getForm()).str();
    d.projection = stringifyProjection(loss.getProjection()).str();
    d.context = stringifyContext(loss.getContextSource()).str();
    d.negatives = stringifyNegatives(loss.getNegatives()).str();
    d.mode = stringifyTrainingMode(loss.getMode()).str();
    d.theta = loss.getThetaValue();
    d.theta2 = loss.getTheta2Value();
    d.lambda = loss.getLambdaValue();
    d.temperature = loss.getTemperatureValue();
    d.weight = loss.getWeightValue();
  };
  auto paramIndexOf = [&](Operation *user, Value v) -> FailureOr<int32_t> {
    auto param = v.getDefiningOp<ParamOp>();
    if (!param)
      return user->emitOpError("trains a value that is not a locus.param");
    return addParam(param);
  };
  auto width = [](Value v) { return cast<ShapedType>(v.getType()).getDimSize(1); };

  SmallVector<BilinearLossOp> bilinear;
  GoodnessLossOp goodness;
  InfoNceLossOp infoNce;
  for (Operation &inner : op.getBody().front()) {
    if (auto l = dyn_cast<BilinearLossOp>(inner))
      bilinear.push_back(l);
    else if (auto l = dyn_cast<GoodnessLossOp>(inner))
      goodness = l;
    else if (auto l = dyn_cast<InfoNceLossOp>(inner))
      infoNce = l;
  }

  if (goodness) {
    describe(goodness.getLoss());
    d.pool = d.contextPool = LossAttr::kPoolNone;
    d.dim = d.contextDim = pooledDim(cast<ShapedType>(marker.getType()), LossAttr::kPoolNone);
    return success();
  }
  if (infoNce) {
    describe(infoNce.getLoss());
    auto pool = infoNce.getZ().getDefiningOp<LossPoolOp>();
    if (!pool)
      return infoNce.emitOpError("expects its z from locus.loss_pool");
    d.pool = d.contextPool = pool.getKernel();
    d.dim = d.contextDim = width(infoNce.getZ());
    FailureOr<int32_t> head = paramIndexOf(infoNce, infoNce.getHead());
    if (failed(head))
      return failure();
    block.projection = *head;
    return success();
  }
  if (bilinear.empty()) {
    // Below the top of a global rule: no loss of its own.
    LossAttr loss = marker.getLoss();
    if (loss.getMode() != TrainingMode::Global)
      return op.emitOpError() << "block '" << op.getName()
                              << "' has no loss ops; run locus-expand-rules";
    describe(loss);
    LossGeometry g = getLossGeometry(marker);
    d.contextBlock = g.contextIndex == index ? -1 : g.contextIndex;
    d.pool = loss.getPool();
    d.contextPool = g.contextPool;
    d.dim = g.dim;
    d.contextDim = g.contextDim;
    return success();
  }

  // The feedback (or only) term first; CLAPP++both's lateral term reads z as
  // its context.
  BilinearLossOp main = bilinear.front();
  describe(main.getLoss());
  auto pool = main.getZ().getDefiningOp<LossPoolOp>();
  if (!pool)
    return main.emitOpError("expects its z from locus.loss_pool");
  d.pool = pool.getKernel();
  d.dim = width(main.getZ());
  d.contextDim = width(main.getContext());
  d.contextBlock = -1;
  d.contextPool = d.pool;
  if (auto context = main.getContext().getDefiningOp<LossContextOp>()) {
    auto it = blockIndex.find(context.getBlock());
    if (it == blockIndex.end())
      return context.emitOpError() << "names no block '" << context.getBlock() << "'";
    d.contextBlock = it->second == index ? -1 : it->second;
    d.contextPool = context.getKernel();
  } else if (auto own = main.getContext().getDefiningOp<LossPoolOp>()) {
    d.contextPool = own.getKernel(); // the block's own output, another kernel
  }
  if (Value b = main.getProjection()) {
    FailureOr<int32_t> p = paramIndexOf(main, b);
    if (failed(p))
      return failure();
    block.projection = *p;
  }
  if (bilinear.size() > 1) {
    Value lat = bilinear[1].getProjection();
    if (bilinear.size() != 2 || !lat || bilinear[1].getContext() != bilinear[1].getZ())
      return bilinear[1].emitOpError("is not the lateral term of CLAPP++both");
    FailureOr<int32_t> p = paramIndexOf(bilinear[1], lat);
    if (failed(p))
      return failure();
    block.lateralProjection = *p;
  }
  return success();
}

/// What the step program's features entry does to a goodness rule's block
/// input (LowerToStep's goodnessInput), for consumers of the record that
/// compute the features themselves (the ONNX export): FF's rows above the
/// first block scaled to unit length, SCFF's standardised and doubled (the
/// pair st + st) with every bias added twice.
void DescriptorBuilder::addGoodnessInput(BlockOp op, int64_t index, rt::BlockDesc &block) {
  rt::LayerDesc input;
  input.inShape = input.outShape = shape4(op.getInput().getType());
  input.eps = static_cast<double>(kGoodnessInputEps);
  if (goodness == GoodnessInput::ForwardForward && index > 0) {
    input.kind = rt::LayerKind::LengthNormalize;
    block.inputLayers.push_back(input);
  } else if (goodness == GoodnessInput::Scff) {
    input.kind = rt::LayerKind::ScaledStandardize;
    input.scale = kScffInputScale;
    block.inputLayers.push_back(input);
  }
  for (rt::LayerDesc &layer : block.layers)
    if (rt::hasConvWeights(layer.kind))
      layer.biasScale = goodnessBiasScale(goodness);
}

LogicalResult DescriptorBuilder::addBlock(BlockOp op, int64_t index) {
  rt::BlockDesc block;
  block.name = op.getName().str();
  block.outShape = shape4(op.getResult().getType());
  // The forward ops come first, up to the marker; the block step's gradient
  // ops follow it.
  LocalLossOp marker = op.getMarker();
  llvm::DenseMap<Operation *, int32_t> layerOf;
  for (Operation &inner : op.getBody().front()) {
    if (&inner == marker.getOperation())
      break;
    layerOf[&inner] = static_cast<int32_t>(block.layers.size());
    if (failed(addLayer(inner, block)))
      return failure();
  }
  addGoodnessInput(op, index, block);
  if (failed(checkGradients(op)))
    return failure();
  if (failed(addLoss(op, marker, index, block)))
    return failure();
  model.blocks.push_back(std::move(block));
  return success();
}

LogicalResult DescriptorBuilder::run(ModuleOp module) {
  auto funcs = llvm::to_vector(module.getOps<func::FuncOp>());
  if (funcs.size() != 1)
    return module.emitError("expected one network function, found ")
           << funcs.size();
  func::FuncOp func = funcs.front();
  model.name = func.getSymName().str();
  if (auto target = module->getAttrOfType<StringAttr>("locus.target"))
    model.target = target.str();
  model.inputShape = shape4(func.getArgument(0).getType());
  int64_t index = 0;
  for (BlockOp block : func.getOps<BlockOp>()) {
    if (index == 0)
      goodness = goodnessInputOf(block.getMarker().getLoss().getScore());
    blockIndex[block.getName()] = static_cast<int32_t>(index++);
  }
  index = 0;
  for (BlockOp block : func.getOps<BlockOp>())
    if (failed(addBlock(block, index++)))
      return failure();
  if (model.blocks.empty())
    return func.emitError("the network has no learning block to train");
  // A parameter is trained where the step updates it: a locus.update (from
  // locus-derive-block-gradients), or a loss's own parameter (B, B_lat, the
  // InfoNCE head) that its locus.loss_grad updates. The runtime keeps
  // optimizer state for these only.
  auto markTrained = [&](Value value) {
    auto it = paramIndex.find(value.getDefiningOp());
    if (it != paramIndex.end())
      model.params[it->second].trained = true;
  };
  func.walk([&](UpdateOp update) { markTrained(update.getParam()); });
  func.walk([&](LossGradOp grad) {
    SmallVector<Value> losses = {grad.getLoss()};
    while (!losses.empty()) {
      Operation *loss = losses.pop_back_val().getDefiningOp();
      if (!loss)
        continue;
      if (isa<LossSumOp>(loss)) {
        losses.append(loss->operand_begin(), loss->operand_end());
        continue;
      }
      if (isa<BilinearLossOp, InfoNceLossOp, GoodnessLossOp>(loss))
        for (Value operand : loss->getOperands())
          if (isa_and_nonnull<ParamOp>(operand.getDefiningOp()))
            markTrained(operand);
    }
  });
  return success();
}
} // namespace

LogicalResult locus::buildModelDescriptor(ModuleOp module,
                                          rt::ModelDesc &model) {
  return DescriptorBuilder(model).run(module);
}
