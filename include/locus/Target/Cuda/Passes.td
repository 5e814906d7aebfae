//===- Passes.td - the CUDA target's passes -----------------*- tablegen -*-===//
#ifndef LOCUS_TARGET_CUDA_PASSES_TD
#define LOCUS_TARGET_CUDA_PASSES_TD

include "mlir/Pass/PassBase.td"

def LocusMapKernelsToGpu : Pass<"locus-map-kernels-to-gpu", "::mlir::ModuleOp"> {
  let summary = "Map the parallel loops of the @locus_kernels to GPU blocks and threads";
  let description = [{
    The kernel generators write every loop whose iterations are independent
    as `scf.parallel` (or a linalg op with parallel iterators): the CPU
    lowering runs such a loop sequentially, this pass gives it to the GPU.
    On the nested `@locus_kernels` module only: linalg to parallel loops,
    each outermost parallel loop tiled by `threads` along its first
    dimension (a guarded tile of constant size), the tiles mapped to GPU
    blocks and their iterations to threads, then turned into `gpu.launch`.

    The kernels' memref arguments are then device memory that host code must
    not touch: the pass fails, naming the kernel and the op, where a memory
    access is left outside a `gpu.launch` (a loop its generator wrote as
    `scf.for` over independent iterations, or a reduction across the grid)
    or where GPU code reads a buffer allocated on the host. With
    `report`, it prints one line per kernel function: how many launches it
    became.
  }];
  let options = [
    Option<"threads", "threads", "int64_t", /*default=*/"256",
           "Threads per block along the tiled dimension">,
    Option<"report", "report", "bool", /*default=*/"false",
           "Print each kernel's launches to stdout">,
    Option<"tileOnly", "tile-only", "bool", /*default=*/"false",
           "Stop after tiling and mapping, leaving the mapped loops for the CPU "
           "(which runs them as loops): the GPU form's index arithmetic checked on "
           "a machine without a GPU">,
    Option<"dropUnmapped", "drop-unmapped", "bool", /*default=*/"false",
           "Leave kernels that cannot run on the GPU out (a warning each) "
           "instead of failing: for tests of the kernels that do">,
  ];
  let dependentDialects = [
    "::mlir::affine::AffineDialect",
    "::mlir::arith::ArithDialect",
    "::mlir::gpu::GPUDialect",
    "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect",
  ];
}

def LocusLowerKernelsToNVVM : Pass<"locus-lower-kernels-to-nvvm", "::mlir::ModuleOp"> {
  let summary = "Lower the GPU-mapped @locus_kernels to PTX and their host side to LLVM";
  let description = [{
    Runs MLIR's GPU-to-NVVM pipeline on the nested `@locus_kernels` module
    (after locus-map-kernels-to-gpu): the launches are outlined into
    `gpu.module`s, lowered to NVVM and serialised to PTX for `chip`
    (`gpu.binary`), and the host side (each kernel's C entry point, the
    step functions) to the LLVM dialect, where a launch becomes calls of
    the `mgpu*` functions the locus runtime implements on the CUDA driver
    API (runtime/src/backend/cuda). The object emitter embeds the PTX.
    Fails, naming the op, if anything is left outside the LLVM dialect.
  }];
  let options = [
    Option<"chip", "chip", "std::string", /*default=*/"\"sm_90\"",
           "GPU architecture the PTX is written for">,
    Option<"features", "features", "std::string", /*default=*/"\"+ptx80\"",
           "PTX ISA features (sm_90 needs PTX 8.0)">,
    Option<"optLevel", "opt-level", "int", /*default=*/"2",
           "NVPTX optimisation level">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::cf::ControlFlowDialect",
    "::mlir::gpu::GPUDialect",
    "::mlir::LLVM::LLVMDialect",
    "::mlir::memref::MemRefDialect",
    "::mlir::NVVM::NVVMDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::vector::VectorDialect",
  ];
}

#endif // LOCUS_TARGET_CUDA_PASSES_TD
