//===- GoodnessInput.h - what a goodness rule does to block inputs -*- C++ -*-===//
//
// Forward-Forward and SCFF change what each block reads, not only its loss
// (METHOD.md section 1): FF length-normalises the input rows of every block
// above the first, SCFF standardises each row and sums it with itself or
// with its neighbour, so its convolutions add their bias once per summand.
// The step program (LocusToStep), the input kernels (LocusToKernels) and the
// model record's inference description (LocusToDescriptor) share this.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_DIALECT_LOCUS_IR_GOODNESSINPUT_H
#define LOCUS_DIALECT_LOCUS_IR_GOODNESSINPUT_H

#include "locus/Dialect/Locus/IR/LocusAttrs.h"

namespace locus {

enum class GoodnessInput { None, ForwardForward, Scff };

/// The input treatment of a model whose first block's loss has `score`.
inline GoodnessInput goodnessInputOf(Score score) {
  return score == Score::SumSquares        ? GoodnessInput::ForwardForward
         : score == Score::MeanReluSquares ? GoodnessInput::Scff
                                           : GoodnessInput::None;
}

/// The float32 epsilon both input normalisations add (the reference's).
constexpr float kGoodnessInputEps = 1e-5f;

/// The factor of every convolution's bias: SCFF's rows are sums of two
/// standardised rows, the sum of two convolutions each with its bias.
inline float goodnessBiasScale(GoodnessInput g) { return g == GoodnessInput::Scff ? 2.0f : 1.0f; }

/// SCFF's rows at inference are st + st = 2 st.
constexpr double kScffInputScale = 2.0;

} // namespace locus

#endif
