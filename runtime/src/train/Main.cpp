//===- Main.cpp - entry point of a compiled training binary ---------------===//
//
// locusc links this with the model's object, whose one exported record
// (abi/Model.h) holds the descriptor, the step program and its kernels. It is its own library (locus_train_main)
// so tests can link the rest of the training runtime without a second `main`.
//
//===----------------------------------------------------------------------===//
#include "locus/runtime/backend/cpu/CompiledKernels.h"
#include "locus/runtime/train/Trainer.h"

int main(int argc, char **argv) {
  return locus::rt::train::trainMain(argc, argv, locus::rt::cpu::linkedModel());
}
