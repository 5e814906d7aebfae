//===- Passes.td - locus passes -----------------------------*- tablegen -*-===//
#ifndef LOCUS_PASSES_TD
#define LOCUS_PASSES_TD

include "mlir/Pass/PassBase.td"

def LocusInferShapes : Pass<"locus-infer-shapes", "::mlir::func::FuncOp"> {
  let summary = "Give every value of a locus network a static shape";
  let description = [{
    The ONNX importer creates every op result as an unranked tensor; only the
    network input and the parameters carry shapes. This pass walks the
    function in program order and asks each op (through
    `InferShapeOpInterface`) for its result shape, then updates the function
    signature. It fails, naming the op, when an operand is not static or the
    operands do not fit the op (e.g. a convolution whose weight expects 3
    input channels on a 1-channel input), or when a result already carries a
    shape that disagrees with the inferred one.

    Example: `%r = locus.relu %c : tensor<64x128x28x28xf32> -> tensor<*xf32>`
    becomes `... -> tensor<64x128x28x28xf32>`.
  }];
  let dependentDialects = ["::locus::LocusDialect"];
}

#endif // LOCUS_PASSES_TD
