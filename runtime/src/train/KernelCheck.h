//===- KernelCheck.h - does the compiled model have every kernel? -*- C++ -*-===//
#ifndef LOCUS_RUNTIME_TRAIN_KERNELCHECK_H
#define LOCUS_RUNTIME_TRAIN_KERNELCHECK_H

#include "locus/runtime/Error.h"
#include "locus/runtime/ModelDescriptor.h"
#include "locus/runtime/backend/cpu/ModelKernels.h"

namespace locus::rt::train {

/// An error naming the first kernel (or table) the model needs and
/// `kernels` lacks: each loss kernel, the activations, poolings, updates and
/// goodness inputs; each loss pooling and relu + max-pool when their static
/// tables are given. Ok when everything is there.
Status checkCompiledKernels(const ModelDesc &model, const cpu::ModelKernels &kernels);

} // namespace locus::rt::train

#endif
