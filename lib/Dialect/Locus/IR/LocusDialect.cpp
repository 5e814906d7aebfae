//===- LocusDialect.cpp - dialect registration ----------------------------===//
#include "locus/Dialect/Locus/IR/LocusDialect.h"
#include "locus/Dialect/Locus/IR/LocusAttrs.h"
#include "locus/Dialect/Locus/IR/LocusOps.h"

#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace locus;

#include "locus/Dialect/Locus/IR/LocusDialect.cpp.inc"

void LocusDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "locus/Dialect/Locus/IR/LocusOps.cpp.inc"
      >();
  registerAttributes();
}
