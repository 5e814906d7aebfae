//===- CompiledTables.h - the kernel tables the unit tests link -*- C++ -*-===//
//
// The unit-test binary links an example model compiled with
// --all-loss-kernels, so every loss kernel locusc generates is in its tables
// (and the activation kernels every model has): the tests check each against
// their float64 references.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_TEST_UNIT_COMPILEDTABLES_H
#define LOCUS_TEST_UNIT_COMPILEDTABLES_H

#include "locus/runtime/backend/cpu/CompiledKernels.h"

namespace locus::test {

inline const abi::LossKernels &compiledLosses() {
  static const abi::LossKernels table = rt::cpu::compiledLossKernels();
  return table;
}

inline const abi::ActivationKernels &compiledActivations() {
  static const abi::ActivationKernels *kernels = rt::cpu::compiledActivationKernels();
  return *kernels;
}

inline const rt::cpu::UpdateKernels &compiledUpdates() {
  static const rt::cpu::UpdateKernels kernels = rt::cpu::compiledUpdateKernels();
  return kernels;
}

inline const abi::PoolingKernels &compiledPooling() {
  static const abi::PoolingKernels *kernels = rt::cpu::compiledPoolingKernels();
  return *kernels;
}

inline const abi::GoodnessInputKernels &compiledGoodnessInputs() {
  static const abi::GoodnessInputKernels *kernels = rt::cpu::compiledGoodnessInputKernels();
  return *kernels;
}

} // namespace locus::test

#endif
