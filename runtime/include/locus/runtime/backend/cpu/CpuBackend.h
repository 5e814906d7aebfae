//===- CpuBackend.h - the Backend of a CPU training binary ------*- C++ -*-===//
//
// The CPU back end: host memory, the runtime's convolutions (Winograd,
// direct, im2col) and OpenBLAS GEMMs as primitives, and the kernels compiled
// into the model's object (ModelKernels.h) launched over the runtime's
// thread pool.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_BACKEND_CPU_CPUBACKEND_H
#define LOCUS_RUNTIME_BACKEND_CPU_CPUBACKEND_H

#include "locus/runtime/backend/Backend.h"
#include "locus/runtime/backend/cpu/ModelKernels.h"

#include <memory>

namespace locus::rt::cpu {

/// A CPU backend running `kernels` (whose tables the caller has checked
/// against the model; only the static-shape pooling tables may be null).
std::unique_ptr<Backend> makeCpuBackend(const ModelKernels &kernels);

} // namespace locus::rt::cpu

#endif
