//===- Main.cpp - entry point of a compiled training binary ---------------===//
//
// locusc links this with the model's object, whose one exported record
// (abi/Model.h) holds the descriptor, the step program and its kernels. It is its own library (locus_train_main)
// so tests can link the rest of the training runtime without a second `main`.
//
//===----------------------------------------------------------------------===//
#include "locus/runtime/backend/cpu/CompiledKernels.h"
#include "locus/runtime/train/Trainer.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

int main(int argc, char **argv) {
#if defined(__GLIBC__)
  // Every step frees and re-allocates the same block tensors. By default glibc
  // maps large ones fresh and trims the heap after each free, so every step
  // paid page faults on zeroed pages (~6% of a Fashion-MNIST step, perf).
  // Keep freed memory for reuse: the peak is unchanged, it is reached anyway.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
#endif
  return locus::rt::train::trainMain(argc, argv, locus::rt::cpu::linkedModel());
}
