//===- Passes.td - the CPU target's passes ------------------*- tablegen -*-===//
#ifndef LOCUS_TARGET_CPU_PASSES_TD
#define LOCUS_TARGET_CPU_PASSES_TD

include "mlir/Pass/PassBase.td"

def LocusLowerKernelsToLLVM
    : Pass<"locus-lower-kernels-to-llvm", "::mlir::ModuleOp"> {
  let summary = "Lower the @locus_kernels module to the LLVM dialect";
  let description = [{
    Runs, on the nested `@locus_kernels` module only (the locus network
    beside it stays as it is), linalg to loops, affine and scf to control
    flow, then memref, arith, math, cf and func to the LLVM dialect. The
    object emitter translates the result to LLVM IR, optimises it at the
    requested -O level for the host CPU (where LLVM's loop vectorizer turns
    the element loops into SIMD code) and writes it beside the model
    descriptor. The pass fails if some op inside the kernels module is left
    unconverted, naming it.
  }];
  // The nested pipeline creates ops of these dialects; a dynamic pipeline
  // cannot load dialects itself.
  let dependentDialects = [
    "::mlir::affine::AffineDialect",
    "::mlir::arith::ArithDialect",
    "::mlir::cf::ControlFlowDialect",
    "::mlir::LLVM::LLVMDialect",
    "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::vector::VectorDialect",
  ];
}

#endif // LOCUS_TARGET_CPU_PASSES_TD
