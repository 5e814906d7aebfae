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
#include "locus/runtime/backend/cpu/CpuBackend.h"

#include <memory>

namespace locus::test {

inline const abi::LossKernels &compiledLosses() { return rt::cpu::linkedModel().losses; }

inline const abi::ActivationKernels &compiledActivations() {
  return *rt::cpu::linkedModel().activations;
}

inline const rt::cpu::UpdateKernels &compiledUpdates() { return rt::cpu::linkedModel().update; }

inline const abi::PoolingKernels &compiledPooling() { return *rt::cpu::linkedModel().pooling; }

inline const abi::GoodnessInputKernels &compiledGoodnessInputs() {
  return *rt::cpu::linkedModel().goodnessInputs;
}

inline const abi::PrecisionKernels &compiledPrecision() {
  return *rt::cpu::linkedModel().precision;
}

/// A CPU backend on the linked model's kernels (shared by the tests that
/// need one: it holds no state between calls).
inline rt::Backend &compiledCpuBackend() {
  static std::unique_ptr<rt::Backend> backend =
      rt::cpu::makeCpuBackend(rt::cpu::modelKernelsOf(rt::cpu::linkedModel()));
  return *backend;
}

} // namespace locus::test

#endif
