//===- MainCuda.cpp - entry point of a --target=cuda training binary ------===//
//
// locusc links this instead of Main.cpp for a model compiled with
// --target=cuda: the same trainer, on the CUDA backend of the device the
// command line names (--device, --precision). Only this library pulls the
// CUDA back end and its libraries into a binary; a CPU binary has none.
//
//===----------------------------------------------------------------------===//
#include "locus/runtime/backend/cpu/CompiledKernels.h"
#include "locus/runtime/train/CudaBackendMaker.h"

int main(int argc, char **argv) {
  using namespace locus::rt;
  return train::trainMain(argc, argv, cpu::linkedModel(), train::cudaBackendMaker());
}
