//===- onnx-text.cpp - fuzz target: ONNX text specs (.onnxtxt) ------------===//
//
// ONNX's textual syntax through the importer (ONNX's parser, locating each
// node and input in the text) and the pipeline `locusc SPEC.onnxtxt` runs
// (SpecFuzz.h). Dictionary: onnxtxt.dict.
//
//===----------------------------------------------------------------------===//
#include "SpecFuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return locus::fuzz::fuzzSpec("onnx-text", "onnxtxt", data, size);
}
