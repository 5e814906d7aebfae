//===- CompiledLosses.h - the loss kernels the unit tests link --*- C++ -*-===//
//
// The unit-test binary links an example model compiled with
// --all-loss-kernels, so every bilinear loss kernel locusc generates is in
// its table and the tests check each against their float64 references.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_TEST_UNIT_COMPILEDLOSSES_H
#define LOCUS_TEST_UNIT_COMPILEDLOSSES_H

#include "locus/runtime/cpu/CompiledKernels.h"

namespace locus::test {

inline const abi::LossKernels &compiledLosses() {
  static const abi::LossKernels table = rt::cpu::compiledLossKernels();
  return table;
}

} // namespace locus::test

#endif
