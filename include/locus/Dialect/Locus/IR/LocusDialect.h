//===- LocusDialect.h - the locus dialect ----------------------*- C++ -*-===//
#ifndef LOCUS_DIALECT_LOCUS_IR_LOCUSDIALECT_H
#define LOCUS_DIALECT_LOCUS_IR_LOCUSDIALECT_H

#include "mlir/IR/Dialect.h"

#include "locus/Dialect/Locus/IR/LocusDialect.h.inc"

#endif
