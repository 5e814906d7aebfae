//===- safetensors.cpp - fuzz target: safetensors checkpoints -------------===//
//
// The reader behind `--init` and `--resume` (readSafetensors, Checkpoint.h)
// on a file holding the input. What it accepts must keep its promises to
// the code that copies tensors out (every entry's bytes inside `data`, F32
// and BF16 entries exactly their shape's size, one entry per name); every
// byte an entry claims is read, so a lie shows as a sanitizer report. Then
// `--init`'s loadCheckpoint restores a two-parameter model from the file
// (a seed has the right names and shapes). Dictionary: safetensors.dict.
//
//===----------------------------------------------------------------------===//
#include "FuzzSupport.h"

#include "locus/runtime/train/Checkpoint.h"

#include <cstring>
#include <memory>

using namespace locus::rt;
using namespace locus::rt::train;
using locus::fuzz::violation;

namespace {

const char *const kTarget = "safetensors";

int64_t width(const std::string &dtype) {
  return dtype == "F32" ? 4 : dtype == "BF16" ? 2 : 0;
}

void checkEntries(const SafetensorsFile &file) {
  if (file.names.size() != file.entries.size())
    violation(kTarget, "a tensor name appears twice in names");
  uint64_t sum = 0;
  for (const std::string &name : file.names) {
    auto it = file.entries.find(name);
    if (it == file.entries.end())
      violation(kTarget, "'" + name + "' is in names but not in entries");
    const SafetensorsEntry &e = it->second;
    if (e.begin > e.end || e.end > file.data.size())
      violation(kTarget, "'" + name + "' claims bytes outside the data");
    if (int64_t w = width(e.dtype)) {
      unsigned __int128 bytes = static_cast<unsigned __int128>(w);
      for (int64_t d : e.shape) {
        if (d < 0)
          violation(kTarget, "'" + name + "' has a negative dimension");
        bytes *= static_cast<unsigned __int128>(d);
        if (bytes > (static_cast<unsigned __int128>(1) << 64))
          break;
      }
      if (bytes != e.end - e.begin)
        violation(kTarget, "'" + name + "': its shape does not match its bytes");
    }
    for (uint64_t k = e.begin; k < e.end; ++k) // what a reader of the tensor touches
      sum += file.data[k];
  }
  volatile uint64_t sink = sum;
  (void)sink;
}

/// The model the seed checkpoint was written for: w [2, 3], b [3].
ModelDesc smallModel() {
  ModelDesc model;
  model.name = "fuzz";
  ParamDesc w, b;
  w.name = "w";
  w.shape = {2, 3};
  b.name = "b";
  b.shape = {3};
  model.params = {w, b};
  return model;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static locus::fuzz::ScratchFile scratch("checkpoint.safetensors");
  const std::string &path = scratch.write(data, size);
  SafetensorsFile file;
  Status status = readSafetensors(path, file);
  if (!status.isOk()) {
    if (status.message().empty())
      locus::fuzz::violation(kTarget, "an error without a message");
    return 0;
  }
  checkEntries(file);

  static const ModelDesc model = smallModel();
  static const std::shared_ptr<MemoryTracker> tracker = std::make_shared<MemoryTracker>();
  std::vector<Tensor> params;
  for (const ParamDesc &p : model.params)
    params.push_back(Tensor::zeros(tracker, Shape4{p.count(), 1, 1, 1}));
  status = loadCheckpoint(path, model, params);
  if (!status.isOk() && status.message().empty())
    locus::fuzz::violation(kTarget, "loadCheckpoint: an error without a message");
  return 0;
}
