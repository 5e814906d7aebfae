//===- TensorLimits.h - the largest tensor locus compiles -------*- C++ -*-===//
//
// A parameter or declared tensor may have at most 2^28 float32 elements
// (1 GiB; VGG-8's largest projection has 2^26): the importer holds declared
// tensors and conv/pool attributes to it, ExpandRules the rules' projections
// B. An activation may be larger (VGG-8 on ImageNet has 2^29.6 in one conv
// output) but at most 2^36 (256 GiB): shape inference holds every inferred
// tensor to that. Sizes, and the sums and products of them later passes form,
// stay far from int64's range.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_SUPPORT_TENSORLIMITS_H
#define LOCUS_SUPPORT_TENSORLIMITS_H

#include "llvm/ADT/ArrayRef.h"

#include <cstdint>
#include <optional>

namespace locus {

constexpr int64_t kMaxTensorElements = int64_t(1) << 28;
constexpr int64_t kMaxActivationElements = int64_t(1) << 36;

/// The product of `dims` when every one is positive and the product is at
/// most `limit` (computed without overflow); nullopt otherwise.
inline std::optional<int64_t> boundedElementCount(llvm::ArrayRef<int64_t> dims,
                                                  int64_t limit = kMaxTensorElements) {
  int64_t elements = 1;
  for (int64_t d : dims) {
    if (d <= 0 || elements > limit / d)
      return std::nullopt;
    elements *= d;
  }
  return elements;
}

} // namespace locus

#endif
