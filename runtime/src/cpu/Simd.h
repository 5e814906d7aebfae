//===- Simd.h - run-time dispatch to AVX2 kernels ---------------*- C++ -*-===//
//
// The runtime is built for the baseline x86-64 ISA; kernels with an AVX2/FMA
// version mark it LOCUS_AVX2 and call it only when useAvx2() says the CPU has
// both extensions.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_SRC_CPU_SIMD_H
#define LOCUS_RUNTIME_SRC_CPU_SIMD_H

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LOCUS_HAVE_X86 1
#define LOCUS_AVX2 __attribute__((target("avx2,fma")))
#endif

namespace locus::rt::cpu {

inline bool useAvx2() {
#if defined(LOCUS_HAVE_X86)
  static const bool yes = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return yes;
#else
  return false;
#endif
}

} // namespace locus::rt::cpu

#endif
