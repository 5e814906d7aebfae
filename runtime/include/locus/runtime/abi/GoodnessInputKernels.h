//===- GoodnessInputKernels.h - FF's and SCFF's input transforms' ABI -*- C++ -*-===//
//
// locus-generate-goodness-input-kernels emits what FF's and SCFF's blocks
// see into every model's object, exported as the one record of
// `locus_goodness_input_kernels`. The runtime draws the random bits and
// partners of the hybrid negatives (its data streams) and calls these.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_ABI_GOODNESSINPUTKERNELS_H
#define LOCUS_RUNTIME_ABI_GOODNESSINPUTKERNELS_H

#include "locus/runtime/abi/MemRef.h"

namespace locus::abi {

struct GoodnessInputKernels {
  /// out [2N, C, H W] = [views; hybrids]; masks [N, H, W] (random 0/1, blurred
  /// in place), partners [N] (the row each hybrid mixes with).
  void (*hybridNegatives)(MemRef3F32 *views, MemRef3F32 *masks, MemRef1I32 *partners,
                          MemRef3F32 *out);
  /// y[r] = x[r] / (||x[r]|| + 1e-5), rows of [N, F].
  void (*lengthNormalizeRows)(MemRef2F32 *x, MemRef2F32 *y);
  /// st = standardised rows of x [N, F]; y = [st + st; st + roll(st)] ([2N, F])
  /// when pairs, else st + st ([N, F]).
  void (*standardizePairs)(MemRef2F32 *x, MemRef2F32 *st, MemRef2F32 *y, bool pairs);
};

} // namespace locus::abi

#endif
