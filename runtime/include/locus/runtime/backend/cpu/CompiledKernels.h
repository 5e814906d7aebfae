//===- CompiledKernels.h - the kernels in a model's object -------*- C++ -*-===//
//
// A model's object exports one record, `locus_model` (abi/Model.h), with its
// descriptor, step program and kernel tables. A program linked with such an
// object (the training binary's main, the kernel tests and benchmark) reads
// it through linkedModel(); a loader that dlopens one (the unit tests' test
// models) reads the same record with dlsym.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_BACKEND_CPU_COMPILEDKERNELS_H
#define LOCUS_RUNTIME_BACKEND_CPU_COMPILEDKERNELS_H

#include "locus/runtime/abi/Model.h"
#include "locus/runtime/backend/cpu/ModelKernels.h"

extern "C" {
extern const locus::abi::ModelRecord locus_model;
}

namespace locus::rt::cpu {

/// The record of the object this program is linked with.
inline const abi::ModelRecord &linkedModel() { return locus_model; }

} // namespace locus::rt::cpu

#endif
