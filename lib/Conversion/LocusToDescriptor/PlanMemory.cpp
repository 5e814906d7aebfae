//===- PlanMemory.cpp - the memory plan of block-by-block training --------===//
//
// Problem: local learning needs far less memory than backprop only if every
// block's activations are freed before the next block runs. The plan says
// what must be live, so the training binary can check its measured peak
// against it and a user can compare local and global training before
// running anything.
//
// Method: lower the partitioned module to the runtime's model descriptor and
// run the runtime's liveness walk over the engine's step (rt::planMemory,
// runtime/src/MemoryPlan.cpp): one model of the engine serves the compiler
// and the runtime. The result goes on each locus.block (`plan`) and on the
// module (`locus.plan.peak_local`, `locus.plan.peak_global`).
//
//===----------------------------------------------------------------------===//
#include "locus/Conversion/LocusToDescriptor.h"
#include "locus/Dialect/Locus/IR/LocusOps.h"
#include "locus/Conversion/Passes.h"
#include "locus/Conversion/LocusToStep/StepProgram.h"
#include "locus/runtime/MemoryPlan.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

namespace locus {
#define GEN_PASS_DEF_LOCUSPLANMEMORY
#include "locus/Conversion/Passes.h.inc"
} // namespace locus

using namespace mlir;
using namespace locus;

namespace {
std::string mib(int64_t bytes) {
  std::string s;
  llvm::raw_string_ostream(s) << llvm::format("%10.1f", bytes / 1048576.0);
  return s;
}

struct PlanMemoryPass
    : public locus::impl::LocusPlanMemoryBase<PlanMemoryPass> {
  using LocusPlanMemoryBase::LocusPlanMemoryBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    // A network without learning blocks has nothing to plan (the importer
    // has already warned about it; emitting code for it fails later).
    bool hasBlocks = false;
    module.walk([&](BlockOp) { hasBlocks = true; });
    if (!hasBlocks)
      return;
    rt::ModelDesc model;
    if (failed(buildModelDescriptor(module, model)))
      return signalPassFailure();
    rt::MemoryPlan plan = rt::planMemory(model);

    Builder builder(module);
    func::FuncOp func = *module.getOps<func::FuncOp>().begin();
    auto blocks = llvm::to_vector(func.getOps<BlockOp>());
    for (auto [block, p] : llvm::zip(blocks, plan.blocks))
      block.setPlanAttr(builder.getDictionaryAttr({
          builder.getNamedAttr("params", builder.getI64IntegerAttr(p.paramBytes)),
          builder.getNamedAttr("optimizer",
                               builder.getI64IntegerAttr(p.optimizerBytes)),
          builder.getNamedAttr("gradients",
                               builder.getI64IntegerAttr(p.gradientBytes)),
          builder.getNamedAttr("activations",
                               builder.getI64IntegerAttr(p.activationBytes)),
      }));
    module->setAttr("locus.plan.peak_local",
                    builder.getI64IntegerAttr(plan.peakLocalBytes));
    module->setAttr("locus.plan.peak_global",
                    builder.getI64IntegerAttr(plan.peakGlobalBytes));
    // What the step program's arena comes on top of (locus-plan-arena; the
    // object's StepProgram record), for each optimizer setting.
    rt::PlanOptions bf16Moments, sgd;
    bf16Moments.bf16Moments = true;
    sgd.adamW = false;
    module->setAttr(locus::kResidentAdamWAttr, builder.getI64IntegerAttr(plan.residentBytes));
    module->setAttr(locus::kResidentAdamWBf16Attr,
                    builder.getI64IntegerAttr(rt::planMemory(model, bf16Moments).residentBytes));
    module->setAttr(locus::kResidentSgdAttr,
                    builder.getI64IntegerAttr(rt::planMemory(model, sgd).residentBytes));
    module->setAttr(locus::kWorkspaceAttr, builder.getI64IntegerAttr(plan.workspaceBytes));
    if (report)
      printReport(model, plan);
  }

  void printReport(const rt::ModelDesc &model, const rt::MemoryPlan &plan) {
    llvm::raw_ostream &os = llvm::outs();
    os << "memory plan of '" << model.name << "' (MiB, float32, "
       << model.inputShape[0] << " views per step)\n";
    os << llvm::format("%-12s", "block") << "    params optimizer gradients"
       << " activations(local) kept(global)\n";
    for (auto [b, p, kept] :
         llvm::zip(model.blocks, plan.blocks, plan.globalForwardBytes))
      os << llvm::format("%-12s", b.name.c_str()) << mib(p.paramBytes)
         << mib(p.optimizerBytes) << mib(p.gradientBytes) << "        "
         << mib(p.activationBytes) << "    " << mib(kept) << "\n";
    os << "resident (parameters, optimizer state, views): "
       << mib(plan.residentBytes) << "\n";
    os << "kernel workspace:                               "
       << mib(plan.workspaceBytes) << "\n";
    os << "peak, local (block by block): " << mib(plan.peakLocalBytes) << "\n";
    os << "peak, global (backprop):      " << mib(plan.peakGlobalBytes)
       << "\n";
    os << llvm::format("local / global: %.3f\n",
                       static_cast<double>(plan.peakLocalBytes) /
                           plan.peakGlobalBytes);
    // The training binary's --optimizer-state bfloat16 halves AdamW's moments.
    rt::PlanOptions halfMoments;
    halfMoments.bf16Moments = true;
    rt::MemoryPlan half = rt::planMemory(model, halfMoments);
    os << "with bfloat16 AdamW moments (--optimizer-state bfloat16):\n";
    os << "  resident: " << mib(half.residentBytes)
       << ", peak local: " << mib(half.peakLocalBytes)
       << ", peak global: " << mib(half.peakGlobalBytes) << "\n";
  }
};
} // namespace
