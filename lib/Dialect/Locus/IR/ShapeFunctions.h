//===- ShapeFunctions.h - result shapes of locus ops -----------*- C++ -*-===//
//
// One function per op computes its result shape from static operand shapes,
// or emits an error on the op and fails. The verifiers (checking a ranked
// result against it) and `inferShapes` (setting it) share these, so the two
// can never disagree.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_LIB_DIALECT_LOCUS_IR_SHAPEFUNCTIONS_H
#define LOCUS_LIB_DIALECT_LOCUS_IR_SHAPEFUNCTIONS_H

#include "locus/Dialect/Locus/IR/LocusOps.h"

namespace locus {
using Shape = llvm::SmallVector<int64_t, 4>;

mlir::FailureOr<Shape> computeResultShape(Conv2DOp op);
mlir::FailureOr<Shape> computeResultShape(ReluOp op);
mlir::FailureOr<Shape> computeResultShape(TriangleOp op);
mlir::FailureOr<Shape> computeResultShape(StandardizeOp op);
mlir::FailureOr<Shape> computeResultShape(LengthNormalizeOp op);
mlir::FailureOr<Shape> computeResultShape(MaxPool2DOp op);
mlir::FailureOr<Shape> computeResultShape(ReluMaxPool2DOp op);
mlir::FailureOr<Shape> computeResultShape(ConvReluMaxPool2DOp op);
mlir::FailureOr<Shape> computeResultShape(AvgPool2DOp op);
mlir::FailureOr<Shape> computeResultShape(GlobalAvgPoolOp op);
mlir::FailureOr<Shape> computeResultShape(FlattenOp op);
mlir::FailureOr<Shape> computeResultShape(ReshapeOp op);
mlir::FailureOr<Shape> computeResultShape(LinearOp op);
mlir::FailureOr<Shape> computeResultShape(AddOp op);
mlir::FailureOr<Shape> computeResultShape(ConcatOp op);
mlir::FailureOr<Shape> computeResultShape(LocalLossOp op);

/// Checks the attributes of a 2D window op (conv or pool) that do not depend
/// on shapes: array lengths and signs.
mlir::LogicalResult verifyWindowAttrs(mlir::Operation *op,
                                      llvm::ArrayRef<int64_t> kernel,
                                      llvm::ArrayRef<int64_t> strides,
                                      llvm::ArrayRef<int64_t> pads,
                                      llvm::ArrayRef<int64_t> dilations);
} // namespace locus

#endif
