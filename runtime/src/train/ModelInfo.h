//===- ModelInfo.h - facts the engine derives from a descriptor -*- C++ -*-===//
//
// Shapes and parameter roles the runtime reads off the compiled model's
// descriptor: which parameters a step trains, their initialisers' fan-in,
// the width of each block's features, and which tables its kernels need.
// None of it is a rule's math: that is the step program's.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_TRAIN_MODELINFO_H
#define LOCUS_RUNTIME_TRAIN_MODELINFO_H

#include "locus/runtime/ModelDescriptor.h"
#include "locus/runtime/backend/cpu/Kernels.h"

namespace locus::rt::train {

/// A loss's pooling kernel k: no pooling, the global average, or (for a
/// context) the context block's own.
constexpr int64_t kPoolNone = -1, kPoolGlobal = 0, kPoolAuto = -2;

/// D = C * floor(H/k) * floor(W/k) of a [n, C, H, W] map (C for k = 0,
/// C*H*W for k = -1).
int64_t lossDim(cpu::Shape4 h, int64_t k);

/// Whether a loss is one of the goodness rules (FF, SCFF), whose blocks
/// read their inputs through the goodness input kernels.
bool isGoodnessLoss(const LossDesc &loss);

/// A relu + max-pool layer whose windows tile the map: locusc compiles a
/// static-shape kernel for it.
bool reluPoolIsCompiled(const LayerDesc &layer);

/// Product of a parameter's dimensions.
int64_t elementCount(const std::vector<int64_t> &shape);

/// The block whose pooled output is block l's context: l itself for
/// "same" or contextBlock -1, else contextBlock ("top", "both").
int32_t contextBlockOf(const ModelDesc &model, int32_t l);
/// The kernel pooling that context block's output ("auto" resolved).
int64_t contextPoolOf(const ModelDesc &model, int32_t l);
cpu::Shape4 blockOutShape(const BlockDesc &block, int64_t n);
/// D_l of block l's loss (its features' width).
int64_t lossDimOf(const ModelDesc &model, int32_t l);

/// Parameters with a fan-in for their initialiser: the descriptor's value,
/// or one derived from how the parameter is used.
int64_t fanInOf(const ModelDesc &model, int32_t param);

/// The parameter indices a block's update touches: its convolutions' weights
/// and biases, and with `withProjections` its loss's B (and B_lat).
std::vector<int32_t> trainedParamsOf(const BlockDesc &block, bool withProjections);

} // namespace locus::rt::train

#endif
