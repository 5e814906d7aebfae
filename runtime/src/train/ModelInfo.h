//===- ModelInfo.h - facts the engine derives from a descriptor -*- C++ -*-===//
#ifndef LOCUS_RUNTIME_TRAIN_MODELINFO_H
#define LOCUS_RUNTIME_TRAIN_MODELINFO_H

#include "locus/runtime/ModelDescriptor.h"
#include "locus/runtime/backend/cpu/LocalLoss.h"
#include "locus/runtime/backend/cpu/Kernels.h"

namespace locus::rt::train {

/// Product of a parameter's dimensions.
int64_t elementCount(const std::vector<int64_t> &shape);

/// The block whose pooled output is block l's context: l itself for
/// "same" or contextBlock -1, else contextBlock ("top", "both").
int32_t contextBlockOf(const ModelDesc &model, int32_t l);
/// The kernel pooling that context block's output ("auto" resolved).
int64_t contextPoolOf(const ModelDesc &model, int32_t l);
/// True when block l reads a context from another block (needs the
/// forward-only pre-pass in the local mode).
bool needsForeignContext(const ModelDesc &model, int32_t l);

cpu::Shape4 blockOutShape(const BlockDesc &block, int64_t n);
/// D_l of block l's loss and Dc of its (feedback) context.
int64_t lossDimOf(const ModelDesc &model, int32_t l);
int64_t contextDimOf(const ModelDesc &model, int32_t l);

/// The descriptor's loss spelled as the CPU loss kernel's configuration.
cpu::BilinearLossConfig bilinearConfig(const LossDesc &loss);

/// Parameters with a fan-in for their initialiser: the descriptor's value,
/// or one derived from how the parameter is used.
int64_t fanInOf(const ModelDesc &model, int32_t param);

/// The parameter indices a block's update touches: its convolutions' weights
/// and biases, and with `withProjections` its loss's B (and B_lat).
std::vector<int32_t> trainedParamsOf(const BlockDesc &block, bool withProjections);

} // namespace locus::rt::train

#endif
