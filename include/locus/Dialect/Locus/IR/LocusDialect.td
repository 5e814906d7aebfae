//===- LocusDialect.td - the locus dialect definition ------*- tablegen -*-===//
#ifndef LOCUS_DIALECT_TD
#define LOCUS_DIALECT_TD

include "mlir/IR/OpBase.td"

def Locus_Dialect : Dialect {
  let name = "locus";
  let summary = "Networks annotated with layer-local learning rules";
  let description = [{
    The `locus` dialect describes a neural network at tensor level (convolutions,
    activations, pooling, linear layers) together with the local-learning
    structure needed to train it without end-to-end backpropagation: learning
    blocks, each marked by a `locus.local_loss` op whose `#locus.loss` attribute
    names the rule (CLAPP++, its direct-feedback and "both" variants, pooled
    CLAPP, Forward-Forward, SCFF, PhyLL, and the global-backprop baselines).

    All tensors are `f32`, NCHW for feature maps. After the
    `locus-infer-shapes` pass every value has a static shape.
  }];
  let cppNamespace = "::locus";
  let useDefaultAttributePrinterParser = 1;
  let extraClassDeclaration = [{
    /// Defined beside the attribute storage classes (LocusAttrs.cpp).
    void registerAttributes();
  }];
}

class Locus_Op<string mnemonic, list<Trait> traits = []>
    : Op<Locus_Dialect, mnemonic, traits>;

#endif // LOCUS_DIALECT_TD
