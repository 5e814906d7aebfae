//===- Goodness.h - Forward-Forward and SCFF in the engine ------*- C++ -*-===//
//
// The goodness rules (METHOD.md §1) differ from the bilinear ones in what a
// block sees, not only in the loss:
// - Forward-Forward: every step adds N hybrid negatives (two images mixed
//   through a random smooth mask) below the N views, and both halves travel
//   through all blocks; from the second block on, each block input row is
//   length-normalised. G = sum y^2 on the block output.
// - SCFF: each block input row is standardised (s); the block sees its input
//   twice, a = conv(x1) + conv(x2) = W (x1 + x2) + 2b, with positive pairs
//   [s, s] and negative pairs [s, roll(s)] (roll: the next row's sample);
//   the per-location G = mean_c relu(a)^2 is taken on the block output, and
//   only the positive half goes on to the next block.
// Both transforms act on the detached block input, so they need no backward
// pass. The probe's features use the same transforms on positives only.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_TRAIN_GOODNESS_H
#define LOCUS_RUNTIME_TRAIN_GOODNESS_H

#include "locus/runtime/backend/Backend.h"
#include "locus/runtime/ModelDescriptor.h"

namespace locus::rt::train {

enum class GoodnessRule { None, ForwardForward, Scff };

/// The rule of a loss: FF (score sum_squares), SCFF (mean_relu_squares), or
/// None for the bilinear and InfoNCE rules.
GoodnessRule goodnessRuleOf(const LossDesc &loss);

/// [views; hybrids] (2N rows): hybrid r mixes row r with a row of another
/// image through a mask from random bits blurred six times with
/// [1/4, 1/2, 1/4] both ways and thresholded at 1/2 (Hinton 2022).
Tensor withHybridNegatives(Backend &backend, const Tensor &views, uint64_t seed);
/// FF's random draws for n rows of `plane` pixels: each row's partner and
/// its mask bits (what withHybridNegatives mixes with).
void drawHybrid(int64_t n, int64_t plane, uint64_t seed, float *masks, int32_t *partners);

/// Block l's input under the rule. FF: h itself for the first block, else
/// each row scaled to unit length. SCFF: s = per-row standardised h, then
/// [s + s; s + roll(s)] (2N rows) when `pairs`, else s + s (the probe).
Tensor goodnessBlockInput(Backend &backend, GoodnessRule rule, int32_t l, const Tensor &h,
                          bool pairs);

/// What the block's conv bias counts for: 2 under SCFF (two convolutions).
float goodnessBiasScale(GoodnessRule rule);

/// The loss on the block output y = [pos rows; neg rows]; writes dL/dy.
double goodnessLoss(Backend &backend, GoodnessRule rule, const LossDesc &loss, const Tensor &y,
                    Tensor &dy);

/// The first `rows` rows of t, copied (SCFF passes the positives on).
Tensor leadingRows(Backend &backend, const Tensor &t, int64_t rows);

} // namespace locus::rt::train

#endif
