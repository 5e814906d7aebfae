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

def Locus_DifferentiableOpInterface : OpInterface<"DifferentiableOpInterface"> {
  let description = [{
    An op inside a learning block that `locus-derive-block-gradients` can
    differentiate: it has one data input (operand 0), whose adjoint
    `locus.vjp` computes, and possibly trainable operands (a convolution's
    weight and bias), whose adjoints `locus.param_vjp` computes. An op in a
    block without this interface stops the derivation with an error.
  }];
  let cppNamespace = "::locus";
  let methods = [
    InterfaceMethod<
      /*desc=*/"The operands whose gradients update parameters, in order.",
      /*retTy=*/"::llvm::SmallVector<::mlir::Value>",
      /*methodName=*/"getTrainableOperands", /*args=*/(ins), /*methodBody=*/"",
      /*defaultImplementation=*/"return {};">
  ];
}

#endif // LOCUS_INTERFACES_TD
