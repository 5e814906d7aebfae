//===- LocusInterfaces.td - locus op interfaces -------------*- tablegen -*-===//
#ifndef LOCUS_INTERFACES_TD
#define LOCUS_INTERFACES_TD

include "mlir/IR/OpBase.td"

def Locus_InferShapeOpInterface : OpInterface<"InferShapeOpInterface"> {
  let description = [{
    An op whose result shape follows from its operand shapes and attributes.
    The importer creates results as unranked tensors; `locus-infer-shapes`
    calls `inferShapes` on every op in program order and fails with the op's
    own message when the operands do not fit.
  }];
  let cppNamespace = "::locus";
  let methods = [
    InterfaceMethod<
      /*desc=*/[{Refine the result types from the (already static) operand
                 types; emit an error on the op and fail if they do not fit.}],
      /*retTy=*/"::llvm::LogicalResult", /*methodName=*/"inferShapes">
  ];
}

#endif // LOCUS_INTERFACES_TD
