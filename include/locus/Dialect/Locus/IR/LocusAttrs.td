//===- LocusAttrs.td - locus attributes ---------------------*- tablegen -*-===//
//
// The `#locus.loss` attribute spells out a local learning rule as the
// components of METHOD.md section 1: L = f(score(z_pos, B c)) + f(-score(z_neg, B c)),
// with f, the projection B, the context c, the loss pooling and the negatives.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_ATTRS_TD
#define LOCUS_ATTRS_TD

include "locus/Dialect/Locus/IR/LocusDialect.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"

//===----------------------------------------------------------------------===//
// Enums
//===----------------------------------------------------------------------===//

def Locus_LossFunction : I32EnumAttr<"LossFunction", "the scalar function f of the loss", [
    I32EnumAttrCase<"Hinge", 0, "hinge">,        // max(0, 1 - u)
    I32EnumAttrCase<"Softplus", 1, "softplus">,  // log(1 + exp(theta - u)) (FF, SCFF)
    I32EnumAttrCase<"Linear", 2, "linear">,      // -u
    I32EnumAttrCase<"Logistic", 3, "logistic">,  // log(1 + exp(-theta u)) (PhyLL)
    I32EnumAttrCase<"InfoNCE", 4, "infonce">     // cross-entropy over in-batch scores
  ]> {
  let cppNamespace = "::locus";
  let genSpecializedAttr = 0;
}

def Locus_LossForm : I32EnumAttr<"LossForm", "how positives and negatives combine", [
    I32EnumAttrCase<"Contrastive", 0, "contrastive">, // Form 2: f(u_pos) + f(-u_neg)
    I32EnumAttrCase<"Difference", 1, "difference">    // Form 1: f(u_pos - u_neg) (PhyLL)
  ]> {
  let cppNamespace = "::locus";
  let genSpecializedAttr = 0;
}

def Locus_Score : I32EnumAttr<"Score", "the score u compared by f", [
    I32EnumAttrCase<"Bilinear", 0, "bilinear">,          // z^T B c
    I32EnumAttrCase<"SumSquares", 1, "sum_squares">,     // FF goodness: sum of y^2
    I32EnumAttrCase<"MeanReluSquares", 2, "mean_relu_squares">, // SCFF goodness per location
    I32EnumAttrCase<"Cosine", 3, "cosine">               // InfoNCE: cosine of projections
  ]> {
  let cppNamespace = "::locus";
  let genSpecializedAttr = 0;
}

def Locus_Projection : I32EnumAttr<"Projection", "the matrix B of the bilinear score", [
    I32EnumAttrCase<"Trainable", 0, "trainable">, // D_l x D_ctx, no bias
    I32EnumAttrCase<"Identity", 1, "identity">,   // no parameters
    I32EnumAttrCase<"Shared", 2, "shared">        // one projection head shared by both views
  ]> {
  let cppNamespace = "::locus";
  let genSpecializedAttr = 0;
}

def Locus_Context : I32EnumAttr<"Context", "where the context vector c comes from", [
    I32EnumAttrCase<"Same", 0, "same">,  // other view, same block (lateral)
    I32EnumAttrCase<"Top", 1, "top">,    // other view, a later block (direct feedback)
    I32EnumAttrCase<"Both", 2, "both">   // L = L_feedback + L_lateral, two matrices
  ]> {
  let cppNamespace = "::locus";
  let genSpecializedAttr = 0;
}

def Locus_Negatives : I32EnumAttr<"Negatives", "how negative samples are formed", [
    I32EnumAttrCase<"Next", 0, "next">,     // z_neg[r] = z_pos[(r+1) mod N]
    I32EnumAttrCase<"Random", 1, "random">, // uniformly random in-batch row
    I32EnumAttrCase<"Hybrid", 2, "hybrid">, // FF: two images mixed by a smooth mask
    I32EnumAttrCase<"Roll", 3, "roll">      // SCFF: [x, roll(x)] on channels
  ]> {
  let cppNamespace = "::locus";
  let genSpecializedAttr = 0;
}

def Locus_TrainingMode : I32EnumAttr<"TrainingMode", "local or global gradient flow", [
    I32EnumAttrCase<"Local", 0, "local">,  // no gradient crosses blocks
    I32EnumAttrCase<"Global", 1, "global"> // backprop through all blocks (BP baselines)
  ]> {
  let cppNamespace = "::locus";
  let genSpecializedAttr = 0;
}

def Locus_Init : I32EnumAttr<"Init", "how a parameter is initialised", [
    I32EnumAttrCase<"KaimingUniform", 0, "kaiming_uniform">, // PyTorch default weight init (a = sqrt 5)
    I32EnumAttrCase<"FanInUniform", 1, "fan_in_uniform">,    // uniform +-1/sqrt(fan_in): PyTorch bias
    I32EnumAttrCase<"Zeros", 2, "zeros">,
    I32EnumAttrCase<"Value", 3, "value">                     // from the spec's initializer
  ]> {
  let cppNamespace = "::locus";
  let genSpecializedAttr = 0;
}

def Locus_InitAttr : EnumAttr<Locus_Dialect, Locus_Init, "init"> {
  let summary = "initialisation scheme of a parameter";
  let description = [{
    Example: `#locus.init<kaiming_uniform>`. `kaiming_uniform` and
    `fan_in_uniform` draw from U(-1/sqrt(fan_in), 1/sqrt(fan_in)) as PyTorch's
    default initialisation of conv and linear layers does; `value` means the
    parameter carries its initial value.
  }];
  let assemblyFormat = "`<` $value `>`";
}

//===----------------------------------------------------------------------===//
// #locus.loss
//===----------------------------------------------------------------------===//

def Locus_LossAttr : AttrDef<Locus_Dialect, "Loss"> {
  let mnemonic = "loss";
  let summary = "a local learning rule: f, B, context, pooling, negatives";
  let description = [{
    Describes the loss of one learning block as in METHOD.md section 1:

        Form 2 (contrastive):  L = f(u(z_pos, c)) + f(-u(z_neg, c))
        Form 1 (difference):   L = f(u(z_pos, c) - u(z_neg, c))

    Fields (any order; omitted ones take the defaults below):
    - `rule`: the preset the fields were expanded from (`"clapp++"`,
      `"clapp++dfb"`, `"clapp++both"`, `"clapp"`, `"ff"`, `"scff"`, `"phyll"`,
      `"bp-clapp++"`, `"bp-infonce"`, or `"custom"`); informational.
    - `score`: `bilinear` (z^T B c, default), `sum_squares` (FF goodness),
      `mean_relu_squares` (SCFF goodness), `cosine` (InfoNCE).
    - `f`: `hinge` (default), `softplus`, `linear`, `logistic`, `infonce`.
    - `form`: `contrastive` (default) or `difference`.
    - `projection`: `trainable` (default), `identity`, `shared`.
    - `context`: `same` (default), `top` (direct feedback), `both`.
    - `context_block`: name of the block the context comes from
      (default: the last block for `top` and `both`).
    - `pool`: loss pooling kernel k1 (= stride) of this block; `global`
      (average over the whole map, default) or `none`.
    - `context_pool`: kernel k2 applied to the context block's output;
      `auto` (default) uses that block's own `pool`.
    - `negatives`: `next` (default), `random`, `hybrid`, `roll`.
    - `theta`, `theta2`, `lambda`: thresholds and the SCFF regulariser weight
      (default 0); `temperature` (default 1); `weight` of this block's loss
      (default 1).
    - `mode`: `local` (default) or `global` (backprop baselines: only the
      top block's loss is optimised, its gradient flows through all blocks).

    Example (CLAPP++ with 2D spatial dependency, kernel 4):

        #locus.loss<rule = "clapp++", score = bilinear, f = hinge,
                    form = contrastive, projection = trainable, context = same,
                    pool = 4, negatives = next, mode = local>
  }];
  let parameters = (ins
    StringRefParameter<"preset name">:$rule,
    "::locus::Score":$score,
    "::locus::LossFunction":$f,
    "::locus::LossForm":$form,
    "::locus::Projection":$projection,
    "::locus::Context":$contextSource,
    StringRefParameter<"context block name, empty for the default">:$contextBlock,
    "int64_t":$pool,
    "int64_t":$contextPool,
    "::locus::Negatives":$negatives,
    APFloatParameter<"theta">:$theta,
    APFloatParameter<"theta2">:$theta2,
    APFloatParameter<"lambda">:$lambda,
    APFloatParameter<"temperature">:$temperature,
    APFloatParameter<"weight">:$weight,
    "::locus::TrainingMode":$mode
  );
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// Sentinels of `pool` and `contextPool`.
    static constexpr int64_t kPoolNone = -1;   ///< no loss pooling (FF, SCFF)
    static constexpr int64_t kPoolGlobal = 0;  ///< average over the whole map
    static constexpr int64_t kPoolAuto = -2;   ///< contextPool: the context block's own pool

    double getThetaValue() const { return getTheta().convertToDouble(); }
    double getTheta2Value() const { return getTheta2().convertToDouble(); }
    double getLambdaValue() const { return getLambda().convertToDouble(); }
    double getTemperatureValue() const { return getTemperature().convertToDouble(); }
    double getWeightValue() const { return getWeight().convertToDouble(); }
    bool isGlobalMode() const { return getMode() == TrainingMode::Global; }
    bool usesLaterContext() const { return getContextSource() != Context::Same; }
  }];
}

#endif // LOCUS_ATTRS_TD
