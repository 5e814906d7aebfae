//===- MainCuda.cpp - entry point of a --target=cuda training binary ------===//
//
// locusc links this instead of Main.cpp for a model compiled with
// --target=cuda: the same trainer, on the CUDA backend of the device the
// command line names (--device, --precision). Only this library pulls the
// CUDA back end and its libraries into a binary; a CPU binary has none.
//
//===----------------------------------------------------------------------===//
#include "locus/runtime/backend/cpu/CompiledKernels.h"
#include "locus/runtime/backend/cuda/CudaBackend.h"
#include "locus/runtime/train/Trainer.h"

int main(int argc, char **argv) {
  using namespace locus::rt;
  auto makeBackend = [](const cpu::ModelKernels &kernels, const train::Options &options,
                        std::string &error) {
    cuda::CudaOptions cuda;
    cuda.device = options.device < 0 ? 0 : static_cast<int>(options.device);
    cuda.tf32 = options.precision != "fp32";
    std::unique_ptr<Backend> backend = cuda::makeCudaBackend(kernels, cuda, error);
    if (!backend)
      error += "; this binary trains on an NVIDIA GPU (its model was compiled with "
               "--target=cuda): compile it with --target=cpu to train on this machine's CPU";
    return backend;
  };
  return train::trainMain(argc, argv, cpu::linkedModel(), makeBackend);
}
