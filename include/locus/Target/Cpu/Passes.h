//===- Passes.h - the CPU target's passes -----------------------*- C++ -*-===//
#ifndef LOCUS_TARGET_CPU_PASSES_H
#define LOCUS_TARGET_CPU_PASSES_H

#include "mlir/Pass/Pass.h"

namespace locus {

#define GEN_PASS_DECL
#include "locus/Target/Cpu/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "locus/Target/Cpu/Passes.h.inc"

} // namespace locus

#endif
