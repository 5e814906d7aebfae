//===- locus-opt.cpp - the locus pass driver for lit tests ----------------===//
#include "locus/Dialect/Locus/IR/LocusDialect.h"
#include "locus/Conversion/Passes.h"
#include "locus/Dialect/Locus/Transforms/Passes.h"
#include "locus/Target/Cpu/Passes.h"
#include "locus/Target/Cuda/Passes.h"
#include "locus/Target/Pipeline.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  // The kernel passes' inputs and outputs hold these dialects too.
  registry.insert<locus::LocusDialect, mlir::func::FuncDialect, mlir::arith::ArithDialect,
                  mlir::linalg::LinalgDialect, mlir::math::MathDialect,
                  mlir::memref::MemRefDialect, mlir::scf::SCFDialect, mlir::LLVM::LLVMDialect,
                  mlir::gpu::GPUDialect, mlir::vector::VectorDialect>();
  locus::registerCudaTargetInterfaces(registry);
  locus::registerLocusPasses();
  locus::registerLocusConversionPasses();
  locus::registerLocusCpuPasses();
  locus::registerLocusCudaPasses();
  locus::registerTrainingPipeline();
  // Canonicalize, CSE and the other generic passes are useful in tests.
  mlir::registerTransformsPasses();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "locus optimizer driver\n", registry));
}
