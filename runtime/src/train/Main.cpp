//===- Main.cpp - entry point of a compiled training binary ---------------===//
//
// locusc links this with the object that defines the model descriptor blob
// and the compiled kernels (optimizer updates, loss poolings, epilogues, losses)
// and the step program. It is its own library (locus_train_main)
// so tests can link the rest of the training runtime without a second `main`.
//
//===----------------------------------------------------------------------===//
#include "locus/runtime/backend/cpu/CompiledKernels.h"
#include "locus/runtime/train/Trainer.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

extern "C" {
extern const unsigned char locus_model_blob[];
extern const unsigned long long locus_model_blob_size;
extern const locus::abi::StepProgram locus_step_programs[];
extern const int64_t locus_step_program_count;
}

int main(int argc, char **argv) {
#if defined(__GLIBC__)
  // Every step frees and re-allocates the same block tensors. By default glibc
  // maps large ones fresh and trims the heap after each free, so every step
  // paid page faults on zeroed pages (~6% of a Fashion-MNIST step, perf).
  // Keep freed memory for reuse: the peak is unchanged, it is reached anyway.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
#endif
  locus::rt::train::CompiledModel compiled;
  compiled.kernels = locus::rt::cpu::compiledModelKernels();
  compiled.program = locus_step_program_count ? &locus_step_programs[0] : nullptr;
  return locus::rt::train::trainMain(argc, argv, locus_model_blob, locus_model_blob_size,
                                     compiled);
}
