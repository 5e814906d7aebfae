//===- BlasSetup.h - OpenBLAS set up for the CPU it runs on -----*- C++ -*-===//
#ifndef LOCUS_RUNTIME_BACKEND_CPU_SRC_BLASSETUP_H
#define LOCUS_RUNTIME_BACKEND_CPU_SRC_BLASSETUP_H

#include <string>

namespace locus::rt::cpu {

struct BlasSetup {
  std::string detectedCore; ///< the kernels OpenBLAS chose for this CPU
  std::string core;         ///< the kernels it runs
  bool overridden = false;  ///< locus asked for `core` instead
  bool userChoice = false;  ///< OPENBLAS_CORETYPE was set before the runtime started
  bool slow = false;        ///< `core` lacks AVX2 kernels on a CPU with AVX2 (user's choice aside)
  /// One line for the training binary's log.
  std::string describe() const;
};

/// Whether OpenBLAS's core `core` has AVX2 or AVX-512 SGEMM kernels.
bool hasWideKernels(const std::string &core);

/// Sets OpenBLAS up once (its kernels for this CPU, one thread) and says
/// what it runs; every BLAS call of the runtime goes after it.
const BlasSetup &blasSetup();

} // namespace locus::rt::cpu

#endif
