//===- MemoryPlan.h - bytes a training step needs --------------*- C++ -*-===//
//
// The memory plan of a compiled model: a liveness walk over the exact
// sequence of allocations and releases the CPU engine performs in one step
// (runtime/src/train/Engine.cpp), for local (block by block) and global
// (backprop) training. locusc's locus-plan-memory pass calls it, so the plan
// printed by `locusc --memory-report` and the peak the training binary
// measures come from one model of the engine; a unit test keeps the two in
// step.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_MEMORYPLAN_H
#define LOCUS_RUNTIME_MEMORYPLAN_H

#include "locus/runtime/ModelDescriptor.h"

#include <vector>

namespace locus::rt {

struct MemoryPlan {
  /// Per block, in local mode: its parameters, their AdamW state and
  /// gradients, and the largest amount of step memory live while it runs
  /// (activations, loss buffers, gradient buffers) above the resident bytes.
  std::vector<BlockPlan> blocks;
  /// Per block: the forward tensors global mode keeps for the backward pass.
  std::vector<int64_t> globalForwardBytes;
  /// Bytes live for the whole run: parameters, optimizer state, the views
  /// buffer and the kernels' workspace (which grows to its largest need).
  int64_t residentBytes = 0, workspaceBytes = 0;
  int64_t peakLocalBytes = 0, peakGlobalBytes = 0;
};

/// What the plan assumes about the run.
struct PlanOptions {
  /// AdamW (the default, which locusc plans for): two moments per trained
  /// parameter, and the projections updated inside the loss step without
  /// forming their gradients. Otherwise SGD or LARS: one momentum buffer,
  /// and dL/dB formed and applied with the other gradients.
  bool adamW = true;
  /// AdamW's moments in bfloat16 (EngineOptions::moments): half the floats.
  bool bf16Moments = false;
};

/// `model` needs static shapes and resolved losses (as locusc writes them);
/// the plan's own fields in it are ignored.
MemoryPlan planMemory(const ModelDesc &model, const PlanOptions &options = {});

} // namespace locus::rt

#endif
