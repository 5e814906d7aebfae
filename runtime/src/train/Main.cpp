//===- Main.cpp - entry point of a compiled training binary ---------------===//
//
// locusc links this with the object that defines the model descriptor blob
// and the compiled kernels (optimizer updates, loss poolings). It is its own library (locus_train_main)
// so tests can link the rest of the training runtime without a second `main`.
//
//===----------------------------------------------------------------------===//
#include "locus/runtime/cpu/CompiledKernels.h"
#include "locus/runtime/train/Trainer.h"

extern "C" {
extern const unsigned char locus_model_blob[];
extern const unsigned long long locus_model_blob_size;
}

int main(int argc, char **argv) {
  return locus::rt::train::trainMain(argc, argv, locus_model_blob, locus_model_blob_size,
                                     locus::rt::cpu::compiledUpdateKernels(),
                                     locus::rt::cpu::compiledLossPoolKernels());
}
