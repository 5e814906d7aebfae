//===- OutlineBlockSteps.cpp - one function per block step ----------------===//
//
// After locus-plan-arena every buffer is a view of the entry point's arena,
// so a block region needs nothing from its entry point but (ctx, views,
// arena) and the views and constants that name its buffers, which the new
// function rebuilds. The region becomes `call @<entry>_<locus.step_function>
// (ctx, views, arena)`: `_block<i>`, or in global mode `_block<i>_forward`
// and `_block<i>_backward`.
//
//===----------------------------------------------------------------------===//
#include "locus/Conversion/LocusToKernels/KernelsModule.h"
#include "locus/Conversion/LocusToStep/StepProgram.h"
#include "locus/Conversion/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Transforms/RegionUtils.h"

namespace locus {
#define GEN_PASS_DEF_LOCUSOUTLINEBLOCKSTEPS
#include "locus/Conversion/Passes.h.inc"
} // namespace locus

using namespace mlir;

namespace {

/// Clones into `builder` what defines `value` (a view of the arena, a cast
/// or reshape of one, a constant), with its operands first.
LogicalResult rebuild(OpBuilder &builder, Value value, IRMapping &mapping) {
  if (mapping.contains(value))
    return success();
  Operation *def = value.getDefiningOp();
  if (!isa_and_nonnull<memref::ViewOp, memref::CastOp, memref::CollapseShapeOp,
                       memref::ExpandShapeOp, arith::ConstantOp>(def))
    return failure();
  for (Value operand : def->getOperands())
    if (failed(rebuild(builder, operand, mapping)))
      return failure();
  builder.clone(*def, mapping);
  return success();
}

LogicalResult outline(func::FuncOp entry, scf::ExecuteRegionOp region, ModuleOp kernels) {
  auto index = region->getAttrOfType<IntegerAttr>(locus::kBlockStepAttr);
  auto suffix = region->getAttrOfType<StringAttr>(locus::kStepFunctionAttr);
  if (!suffix)
    return region.emitOpError("is a block step without its function name (")
           << locus::kStepFunctionAttr << ")";
  std::string name = (entry.getName() + "_" + suffix.getValue()).str();
  OpBuilder builder(entry);
  builder.setInsertionPoint(entry);
  auto func = func::FuncOp::create(builder, region.getLoc(), name, entry.getFunctionType());
  func.setPrivate();
  func->setAttr(locus::kBlockStepAttr, index);
  if (auto block = region->getAttr("locus.block"))
    func->setAttr("locus.block", block);
  Block *body = func.addEntryBlock();

  IRMapping mapping;
  for (auto [outer, inner] : llvm::zip(entry.getArguments(), body->getArguments()))
    mapping.map(outer, inner);
  builder.setInsertionPointToStart(body);
  llvm::SetVector<Value> captured;
  getUsedValuesDefinedAbove(region.getRegion(), captured);
  for (Value value : captured)
    if (failed(rebuild(builder, value, mapping)))
      return region.emitOpError("uses a value the outlined block step cannot rebuild");
  Block &inner = region.getRegion().front();
  for (Operation &op : llvm::make_early_inc_range(inner.without_terminator())) {
    op.moveBefore(body, body->end());
    op.walk([&](Operation *nested) {
      for (OpOperand &use : nested->getOpOperands())
        if (Value mapped = mapping.lookupOrNull(use.get()))
          use.set(mapped);
    });
  }
  builder.setInsertionPointToEnd(body);
  func::ReturnOp::create(builder, region.getLoc());

  builder.setInsertionPoint(region);
  func::CallOp::create(builder, region.getLoc(), func, entry.getArguments());
  region.erase();
  return success();
}

struct OutlineBlockStepsPass
    : public locus::impl::LocusOutlineBlockStepsBase<OutlineBlockStepsPass> {
  void runOnOperation() override {
    ModuleOp kernels = locus::findKernelsModule(getOperation());
    if (!kernels)
      return;
    SmallVector<func::FuncOp> entries;
    for (auto func : kernels.getOps<func::FuncOp>())
      if (func->hasAttr(locus::kStepEntryAttr))
        entries.push_back(func);
    for (func::FuncOp entry : entries) {
      SmallVector<scf::ExecuteRegionOp> regions;
      for (auto region : entry.getBody().getOps<scf::ExecuteRegionOp>())
        if (region->hasAttr(locus::kBlockStepAttr))
          regions.push_back(region);
      for (scf::ExecuteRegionOp region : regions)
        if (failed(outline(entry, region, kernels)))
          return signalPassFailure();
    }
  }
};

} // namespace
