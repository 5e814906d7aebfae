//===- LocusAttrs.h - locus attributes and enums ---------------*- C++ -*-===//
#ifndef LOCUS_DIALECT_LOCUS_IR_LOCUSATTRS_H
#define LOCUS_DIALECT_LOCUS_IR_LOCUSATTRS_H

#include "mlir/IR/Attributes.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/APFloat.h"

#include "locus/Dialect/Locus/IR/LocusEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "locus/Dialect/Locus/IR/LocusAttrs.h.inc"

#endif
