//===- TrainModel.cpp - the trainer on a model loaded as a shared library -===//
//
//   locus-train-model MODEL.so [the training binary's options]
//
// Exactly what a training binary does (trainMain: data, steps, held-out
// losses, probe, checkpoints, metrics), on a model object locusc wrote
// (--emit=obj, linked with `c++ -shared`) instead of one linked in: the GPU
// check runs every rule's --target=cuda test model through the whole trainer
// this way without linking a binary per rule. A --target=cuda model trains on
// the CUDA backend (where this tool was built with it), any other on the CPU.
//
//===----------------------------------------------------------------------===//
#include "locus/runtime/abi/Model.h"
#include "locus/runtime/train/Trainer.h"

#if defined(LOCUS_HAVE_CUDA)
#include "locus/runtime/train/CudaBackendMaker.h"
#endif

#include <dlfcn.h>

#include <cstdio>
#include <cstring>
#include <vector>

int main(int argc, char **argv) {
  using namespace locus;
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0) {
    std::fputs("usage: locus-train-model MODEL.so [training options; MODEL.so --help lists them]\n",
               argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  void *library = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!library) {
    std::fprintf(stderr, "error: %s\n", dlerror());
    return 1;
  }
  auto *record = static_cast<const abi::ModelRecord *>(dlsym(library, abi::kModelSymbol));
  if (!record) {
    std::fprintf(stderr, "error: %s: no model record (not an object locusc wrote)\n", argv[1]);
    return 1;
  }
  // The trainer reads argv[0] as the program's name: the model's file.
  std::vector<char *> args(argv + 1, argv + argc);
  rt::train::BackendMaker maker;
  if (record->target && std::strcmp(record->target, "cuda") == 0) {
#if defined(LOCUS_HAVE_CUDA)
    maker = rt::train::cudaBackendMaker();
#else
    std::fprintf(stderr, "error: %s: a --target=cuda model, and this tool was built without the "
                         "CUDA back end\n", argv[1]);
    return 1;
#endif
  }
  return rt::train::trainMain(static_cast<int>(args.size()), args.data(), *record, maker);
}
