//===- RulePresets.h - named learning rules as #locus.loss -----*- C++ -*-===//
//
// The rules of METHOD.md section 1 by name. A preset fixes every component of
// the loss except the block-specific pooling, which the caller passes in.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_DIALECT_LOCUS_IR_RULEPRESETS_H
#define LOCUS_DIALECT_LOCUS_IR_RULEPRESETS_H

#include "locus/Dialect/Locus/IR/LocusAttrs.h"

#include <optional>

namespace locus {

/// The components of a #locus.loss, as plain values that can be edited
/// field by field before building the attribute.
struct LossSpec {
  std::string rule = "custom";
  Score score = Score::Bilinear;
  LossFunction f = LossFunction::Hinge;
  LossForm form = LossForm::Contrastive;
  Projection projection = Projection::Trainable;
  Context context = Context::Same;
  std::string contextBlock;
  int64_t pool = LossAttr::kPoolGlobal;
  int64_t contextPool = LossAttr::kPoolAuto;
  Negatives negatives = Negatives::Next;
  double theta = 0.0, theta2 = 0.0, lambda = 0.0, temperature = 1.0,
         weight = 1.0;
  TrainingMode mode = TrainingMode::Local;

  /// Builds the attribute; reports verification errors through `emitError`.
  LossAttr getChecked(llvm::function_ref<mlir::InFlightDiagnostic()> emitError,
                      mlir::MLIRContext *context) const;
};

/// The preset named `rule` with loss pooling `pool` (a kernel size,
/// LossAttr::kPoolGlobal or kPoolNone), or nullopt for an unknown name.
/// Presets whose rule fixes the pooling (pooled CLAPP, FF, SCFF, BP-InfoNCE)
/// ignore `pool`.
std::optional<LossSpec> getRulePreset(llvm::StringRef rule, int64_t pool);

/// The preset names, for help texts and error messages.
llvm::ArrayRef<llvm::StringRef> getRuleNames();

} // namespace locus

#endif
