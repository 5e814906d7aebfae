//===- Checkpoint.h - parameters in safetensors files -----------*- C++ -*-===//
//
// safetensors: an 8-byte little-endian header length, a JSON header
// {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__":
// {string: string}} padded with spaces to 8 bytes, then the raw little-endian
// data, contiguous in header order. Python's `safetensors` package reads what
// we write (and we read what it writes, F32 tensors only). Files are written
// to a temporary name and renamed, so a crash never leaves half a checkpoint.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_TRAIN_CHECKPOINT_H
#define LOCUS_RUNTIME_TRAIN_CHECKPOINT_H

#include "locus/runtime/Error.h"
#include "locus/runtime/ModelDescriptor.h"
#include "locus/runtime/train/Tensor.h"

#include <map>
#include <string>
#include <vector>

namespace locus::rt::train {

struct NamedArray {
  std::string name;
  std::vector<int64_t> shape;
  const float *data = nullptr;
  /// Instead of data: bfloat16 bit patterns, written with dtype BF16.
  const uint16_t *bf16 = nullptr;
};

Status writeSafetensors(const std::string &path, const std::vector<NamedArray> &arrays,
                        const std::map<std::string, std::string> &metadata = {});

struct SafetensorsEntry {
  std::string dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0; ///< byte offsets into `data`
};
struct SafetensorsFile {
  std::vector<std::string> names; ///< header order
  std::map<std::string, SafetensorsEntry> entries;
  std::map<std::string, std::string> metadata;
  std::vector<uint8_t> data;
};
Status readSafetensors(const std::string &path, SafetensorsFile &out);

/// Every descriptor parameter under its descriptor name.
Status saveCheckpoint(const std::string &path, const ModelDesc &model,
                      const std::vector<Tensor> &params);
/// Loads every descriptor parameter; names, dtypes and shapes must match the
/// model exactly (a missing or extra tensor is an error).
Status loadCheckpoint(const std::string &path, const ModelDesc &model, std::vector<Tensor> &params);

} // namespace locus::rt::train

#endif
