//===- BlasSetup.cpp - OpenBLAS set up for the CPU it runs on ------------===//
//
// Problem: a DYNAMIC_ARCH OpenBLAS picks its kernels from the CPU model it
// knows. One that predates the CPU (Debian 12's 0.3.21 on Emerald Rapids,
// family 6 model 207) falls back to "Prescott", SSE3 kernels, on a CPU with
// AVX-512: measured here, the VGG-6 convolutions ran 2.5-3.3x slower.
//
// Method: before the first BLAS call, if OpenBLAS chose a core without AVX2
// kernels while the CPU has AVX2 and FMA (run-time CPUID, never assumed), ask
// it to initialise again with the core its own OPENBLAS_CORETYPE would name:
// SkylakeX with AVX-512 F/BW/DQ/VL, Haswell otherwise. A user's
// OPENBLAS_CORETYPE is left alone. The decision is reported (blasSetup()).
//
//===----------------------------------------------------------------------===//
#include "backend/cpu/BlasSetup.h"

#include <cblas.h>

#include <cstdlib>

// DYNAMIC_ARCH builds only: weak, so a build for one core still links.
extern "C" {
void gotoblas_dynamic_init(void) __attribute__((weak));
void gotoblas_dynamic_quit(void) __attribute__((weak));
}

namespace locus::rt::cpu {

bool hasWideKernels(const std::string &core) {
  static const char *const kWide[] = {"Haswell",        "Zen",      "SkylakeX", "Cooperlake",
                                      "SapphireRapids", "Excavator"};
  for (const char *wide : kWide)
    if (core == wide)
      return true;
  return false;
}

namespace {

const char *coreFor() {
#if defined(__x86_64__) || defined(__i386__)
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
    return "SkylakeX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    return "Haswell";
#endif
  return nullptr;
}

BlasSetup setUp() {
  BlasSetup setup;
  setup.detectedCore = openblas_get_corename();
  setup.core = setup.detectedCore;
  setup.userChoice = std::getenv("OPENBLAS_CORETYPE") != nullptr;
  const char *wanted = coreFor();
  if (wanted && !hasWideKernels(setup.detectedCore) && !setup.userChoice &&
      gotoblas_dynamic_init && gotoblas_dynamic_quit) {
    // OpenBLAS reads its core from the environment only; it is set for the
    // re-initialisation and removed again, so child processes see none.
    setenv("OPENBLAS_CORETYPE", wanted, /*overwrite=*/0);
    gotoblas_dynamic_quit();
    gotoblas_dynamic_init();
    unsetenv("OPENBLAS_CORETYPE");
    setup.core = openblas_get_corename();
    setup.overridden = setup.core != setup.detectedCore;
  }
  setup.slow = wanted && !hasWideKernels(setup.core) && !setup.userChoice;
  // The runtime's pool splits GEMMs into panels; OpenBLAS's own threads
  // would only contend with it (Gemm.cpp).
  openblas_set_num_threads(1);
  return setup;
}

} // namespace

const BlasSetup &blasSetup() {
  static const BlasSetup setup = setUp(); // once, thread-safe
  return setup;
}

std::string BlasSetup::describe() const {
  if (overridden)
    return "OpenBLAS kernels: " + core + " (chosen by locus: this OpenBLAS took the CPU for " +
           detectedCore + ", without AVX2 kernels)";
  if (slow)
    return "warning: OpenBLAS runs its " + core +
           " kernels, without AVX2, on a CPU that has it; GEMMs and convolutions are slow (set "
           "OPENBLAS_CORETYPE=Haswell or SkylakeX)";
  return "OpenBLAS kernels: " + core;
}

} // namespace locus::rt::cpu
