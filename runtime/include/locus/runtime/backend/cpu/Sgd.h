//===- Sgd.h - SGD with momentum and LARS ----------------------*- C++ -*-===//
#ifndef LOCUS_RUNTIME_BACKEND_CPU_SGD_H
#define LOCUS_RUNTIME_BACKEND_CPU_SGD_H

#include "locus/runtime/backend/Types.h"

namespace locus::rt::cpu {

// The update itself is the compiled kernels' (UpdateKernels.h: sgdStep).
using rt::SgdMomentum;

} // namespace locus::rt::cpu

#endif
