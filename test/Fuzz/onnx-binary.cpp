//===- onnx-binary.cpp - fuzz target: binary ONNX specs (.onnx) -----------===//
//
// Protobuf bytes through the importer and the pipeline `locusc SPEC.onnx`
// runs (SpecFuzz.h). Dictionary: onnx.dict.
//
//===----------------------------------------------------------------------===//
#include "SpecFuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return locus::fuzz::fuzzSpec("onnx-binary", "onnx", data, size);
}
