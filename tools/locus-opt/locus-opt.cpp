//===- locus-opt.cpp - the locus pass driver for lit tests ----------------===//
#include "locus/Dialect/Locus/IR/LocusDialect.h"
#include "locus/Dialect/Locus/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  registry.insert<locus::LocusDialect, mlir::func::FuncDialect>();
  locus::registerLocusPasses();
  // Canonicalize, CSE and the other generic passes are useful in tests.
  mlir::registerTransformsPasses();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "locus optimizer driver\n", registry));
}
