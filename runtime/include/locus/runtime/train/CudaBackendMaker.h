//===- CudaBackendMaker.h - the backend a --target=cuda model runs on -*- C++ -*-===//
//
// What a GPU training binary's main (and locus-train-model) hands trainMain:
// the CUDA backend on the device and precision of the command line
// (--device, --precision). Only code built with the CUDA back end links it.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_TRAIN_CUDABACKENDMAKER_H
#define LOCUS_RUNTIME_TRAIN_CUDABACKENDMAKER_H

#include "locus/runtime/train/Trainer.h"

namespace locus::rt::train {

/// Makes the CUDA backend for `options` (device 0 and TF32 unless given);
/// its error says why not and that the binary needs an NVIDIA GPU.
BackendMaker cudaBackendMaker();

} // namespace locus::rt::train

#endif
