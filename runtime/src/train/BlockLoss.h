//===- BlockLoss.h - one block's local loss and its gradient ----*- C++ -*-===//
#ifndef LOCUS_RUNTIME_TRAIN_BLOCKLOSS_H
#define LOCUS_RUNTIME_TRAIN_BLOCKLOSS_H

#include "locus/runtime/backend/Backend.h"
#include "locus/runtime/ModelDescriptor.h"
#include "locus/runtime/backend/cpu/Optimizer.h"

namespace locus::rt::train {

/// A projection updated inside the loss step: AdamW from the gradient's row
/// factors (dL/dB = factors^T c), so dL/dB is never formed.
struct FusedProjectionUpdate {
  const cpu::AdamW *adam = nullptr; ///< null: form dL/dB instead
  int64_t step = 0;
  cpu::AdamMoments moments;        ///< B's AdamW moments
  cpu::AdamMoments lateralMoments; ///< B_lat's ("both")
};

/// The projections of a block's loss and where their gradients go.
struct LossProjections {
  float *projection = nullptr; ///< B [D, Dc] ("both": B_fb)
  float *lateral = nullptr;    ///< "both": B_lat [D, D]
  Tensor *dProjection = nullptr; ///< allocated here when non-null
  Tensor *dLateral = nullptr;
  FusedProjectionUpdate fused; ///< when set, B (and B_lat) are updated here
};

/// The loss of METHOD.md §1-2 on z [N, D] with the stop-gradient context
/// (z itself for "same"; the pooled feedback block for "top" and "both",
/// where "both" adds the lateral term on z). Writes dL/dz into dz
/// (allocated here) and the projections' gradients where asked.
double blockLoss(Backend &backend, const LossDesc &loss, const Tensor &z, const Tensor &context,
                 const LossProjections &proj, const int32_t *negIndex, Tensor &dz);

} // namespace locus::rt::train

#endif
