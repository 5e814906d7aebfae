//===- StepProgram.h - names the step program's passes share ----*- C++ -*-===//
//
// locus-lower-to-step builds the entry points in @locus_kernels,
// locus-plan-arena places their buffers, locus-outline-block-steps splits
// them per block, and the object emitter exports them as the StepProgram
// record (runtime/include/locus/runtime/abi/StepCalls.h).
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_CONVERSION_LOCUSTOSTEP_STEPPROGRAM_H
#define LOCUS_CONVERSION_LOCUSTOSTEP_STEPPROGRAM_H

#include "llvm/ADT/StringRef.h"

namespace locus {

/// The entry points, in StepProgram's order.
constexpr llvm::StringLiteral kTrainFusedEntry = "locus_train_fused_step";
constexpr llvm::StringLiteral kTrainEntry = "locus_train_step";
constexpr llvm::StringLiteral kEvaluateEntry = "locus_evaluate_step";
constexpr llvm::StringLiteral kFeaturesEntry = "locus_features_step";

/// Unit attribute of an entry point.
constexpr llvm::StringLiteral kStepEntryAttr = "locus.step_entry";
/// The block index on a block's scf.execute_region (and outlined function).
constexpr llvm::StringLiteral kBlockStepAttr = "locus.block_step";
/// On a block region: the suffix of its outlined function's name
/// (`block<i>`; `block<i>_forward` and `block<i>_backward` in global mode).
constexpr llvm::StringLiteral kStepFunctionAttr = "locus.step_function";
/// On @locus_kernels: the rows a block runs on per view in the training and
/// evaluation entries (StepProgram::rowsPerView).
constexpr llvm::StringLiteral kRowsPerViewAttr = "locus.rows_per_view";
/// On @locus_kernels (unit): the fused entry point forms dL/dB and applies it
/// at once instead of updating B from the loss's factors (factor-update=false).
constexpr llvm::StringLiteral kFactorUpdateOffAttr = "locus.factor_update_off";
/// On @locus_kernels: the arena bytes of entry `<name>` (locus-plan-arena),
/// as `locus.arena_bytes.<name>`.
constexpr llvm::StringLiteral kArenaBytesAttrPrefix = "locus.arena_bytes.";

/// On the top module (locus-plan-memory): the bytes resident for the whole
/// run under AdamW (float32 or bfloat16 moments) and SGD/LARS, and the
/// primitives' largest workspace; the arena comes on top of them.
constexpr llvm::StringLiteral kResidentAdamWAttr = "locus.plan.resident";
constexpr llvm::StringLiteral kResidentAdamWBf16Attr = "locus.plan.resident_bf16";
constexpr llvm::StringLiteral kResidentSgdAttr = "locus.plan.resident_sgd";
constexpr llvm::StringLiteral kWorkspaceAttr = "locus.plan.workspace";
/// --target=cuda only: the bfloat16 copies of the largest convolution's
/// operands that --precision bf16 adds (ConvStaging.h); cuDNN's workspace
/// is chosen at run time and not in the plan.
constexpr llvm::StringLiteral kBf16StagingAttr = "locus.plan.bf16_staging";

} // namespace locus

#endif
