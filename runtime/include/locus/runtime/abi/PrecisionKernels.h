//===- PrecisionKernels.h - float32 <-> bfloat16 kernels' ABI ---*- C++ -*-===//
//
// locus-generate-precision-kernels emits the conversions `--precision bf16`
// runs around each convolution into every model's object; the object exports
// their entry points as the one record of `locus_precision_kernels`.
// bfloat16 travels as its 16 bits.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_ABI_PRECISIONKERNELS_H
#define LOCUS_RUNTIME_ABI_PRECISIONKERNELS_H

#include "locus/runtime/abi/MemRef.h"

namespace locus::abi {

struct PrecisionKernels {
  /// bits = x rounded to the nearest bfloat16, ties to even (NaN stays NaN).
  void (*toBf16)(MemRef1F32 *x, MemRef1U16 *bits);
  /// y = the bfloat16 bits as float32 (exact).
  void (*toF32)(MemRef1U16 *bits, MemRef1F32 *y);
  /// y += the bfloat16 bits as float32.
  void (*addToF32)(MemRef1U16 *bits, MemRef1F32 *y);
};

} // namespace locus::abi

#endif
