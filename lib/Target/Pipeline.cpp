//===- Pipeline.cpp - the pass pipeline locusc runs -----------------------===//
//
// One definition of the compilation pipeline, used by locusc and registered
// in locus-opt as `locus-training-pipeline`, so a lit test or a user can run
// exactly what the compiler runs, stage by stage. Both targets share the
// block step, the kernel generators and the step program; only the last
// stage, lowering the same kernels, is the target's.
//
//===----------------------------------------------------------------------===//
#include "locus/Target/Pipeline.h"

#include "locus/Conversion/Passes.h"
#include "locus/Target/Cpu/Passes.h"
#include "locus/Target/Cuda/Passes.h"

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"

using namespace mlir;

void locus::buildTrainingPipeline(OpPassManager &pm, const TrainingPipelineOptions &options) {
  // The CUDA backend has neither the fused conv + relu + max-pool nor the
  // update of B from the loss's factors: their buffers (the conv output, dB)
  // are the program's, so the memory plan holds them.
  const bool cuda = options.target == "cuda";
  BlockStepOptions step;
  step.fuseConvReluPool = options.fuseConvReluPool && !cuda;
  buildBlockStepPipeline(pm, step);
  LocusPlanMemoryOptions plan;
  plan.report = options.memoryReport;
  pm.addPass(createLocusPlanMemory(plan));
  if (options.codegen) {
    pm.addPass(createLocusGenerateUpdateKernels());
    pm.addPass(createLocusGeneratePoolKernels());
    pm.addPass(createLocusGenerateReluPoolKernels());
    LocusGenerateLossKernelsOptions loss;
    loss.allVariants = options.allLossKernels;
    pm.addPass(createLocusGenerateLossKernels(loss));
    LocusGenerateGoodnessKernelsOptions goodness;
    goodness.allVariants = options.allLossKernels;
    pm.addPass(createLocusGenerateGoodnessKernels(goodness));
    LocusGenerateInfoNceKernelsOptions infoNce;
    infoNce.allVariants = options.allLossKernels;
    pm.addPass(createLocusGenerateInfoNceKernels(infoNce));
    pm.addPass(createLocusGenerateActivationKernels());
    pm.addPass(createLocusGeneratePoolingKernels());
    pm.addPass(createLocusGeneratePrecisionKernels());
    pm.addPass(createLocusGenerateGoodnessInputKernels());
    // The step program: the block steps as calls on arena buffers.
    LocusLowerToStepOptions lower;
    lower.factorUpdate = !cuda;
    pm.addPass(createLocusLowerToStep(lower));
    LocusPlanArenaOptions arena;
    arena.report = options.memoryReport;
    pm.addPass(createLocusPlanArena(arena));
    pm.addPass(createLocusOutlineBlockSteps());
    if (options.lowerKernels && options.target == "cuda") {
      pm.addPass(createLocusMapKernelsToGpu());
      LocusLowerKernelsToNVVMOptions nvvm;
      nvvm.chip = options.gpuChip;
      pm.addPass(createLocusLowerKernelsToNVVM(nvvm));
    } else if (options.lowerKernels) {
      if (options.gpuTilingOnCpu) {
        LocusMapKernelsToGpuOptions tiling;
        tiling.tileOnly = true;
        pm.addPass(createLocusMapKernelsToGpu(tiling));
      }
      pm.addPass(createLocusLowerKernelsToLLVM());
    }
  }
}

void locus::registerTrainingPipeline() {
  PassPipelineRegistration<TrainingPipelineOptions>(
      "locus-training-pipeline",
      "What locusc runs: shapes, blocks, the block step (fusion, rules, gradients), "
      "the memory plan and, with codegen, the update, loss-pooling, relu + max-pool "
      "and loss kernels lowered for the target",
      buildTrainingPipeline);
}
