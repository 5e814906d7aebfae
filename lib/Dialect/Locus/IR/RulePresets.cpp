//===- RulePresets.cpp - named learning rules -----------------------------===//
//
// Values follow METHOD.md section 1. Thresholds that the sources leave open
// are marked "choice"; every one can be overridden per block in the spec.
//
//===----------------------------------------------------------------------===//
#include "locus/Dialect/Locus/IR/RulePresets.h"

#include "llvm/ADT/StringSwitch.h"

using namespace mlir;
using namespace locus;

ArrayRef<StringRef> locus::getRuleNames() {
  static const StringRef names[] = {"clapp++",    "clapp++dfb", "clapp++both",
                                    "clapp",      "ff",         "scff",
                                    "phyll",      "bp-clapp++", "bp-infonce"};
  return names;
}

std::optional<LossSpec> locus::getRulePreset(StringRef rule, int64_t pool) {
  LossSpec spec;
  spec.rule = rule.str();
  spec.pool = pool;
  // CLAPP++ is the base: hinge on the bilinear score, trainable B, context
  // from the other view of the same block, next-index negatives.
  if (rule == "clapp++")
    return spec;
  if (rule == "clapp++dfb") {
    spec.context = Context::Top;
    return spec;
  }
  if (rule == "clapp++both") {
    spec.context = Context::Both;
    return spec;
  }
  if (rule == "clapp") { // no 2D spatial dependency: pool the whole map
    spec.pool = LossAttr::kPoolGlobal;
    return spec;
  }
  if (rule == "ff") {
    spec.score = Score::SumSquares;
    spec.f = LossFunction::Softplus;
    spec.projection = Projection::Identity;
    spec.pool = LossAttr::kPoolNone;
    spec.negatives = Negatives::Hybrid;
    spec.theta = 2.0; // choice: goodness threshold
    return spec;
  }
  if (rule == "scff") {
    spec.score = Score::MeanReluSquares;
    spec.f = LossFunction::Softplus;
    spec.projection = Projection::Identity;
    spec.pool = LossAttr::kPoolNone;
    spec.negatives = Negatives::Roll;
    spec.theta = 1.0;   // choice: th1
    spec.theta2 = 1.0;  // choice: th2
    spec.lambda = 0.03; // choice: weight of mean ||G_pos||
    return spec;
  }
  if (rule == "phyll") {
    spec.form = LossForm::Difference;
    spec.f = LossFunction::Logistic;
    spec.theta = 1.0; // choice: the slope theta of log(1 + exp(-theta u))
    return spec;
  }
  if (rule == "bp-clapp++") { // loss on the top block only, end to end
    spec.mode = TrainingMode::Global;
    return spec;
  }
  if (rule == "bp-infonce") {
    spec.score = Score::Cosine;
    spec.f = LossFunction::InfoNCE;
    spec.projection = Projection::Shared;
    spec.pool = LossAttr::kPoolGlobal;
    spec.temperature = 0.1;
    spec.mode = TrainingMode::Global;
    return spec;
  }
  return std::nullopt;
}
