//===- cifar.cpp - fuzz target: CIFAR-10 and CIFAR-100 batch files --------===//
//
// parseCifarBatch (Data.h), which loadCifar10 and loadCifar100 run on each
// batch file: the input's first byte picks the layout (even: CIFAR-10,
// odd: CIFAR-100), the rest is the file. What it accepts must be whole
// images with a label of the data set's classes each.
//
//===----------------------------------------------------------------------===//
#include "FuzzSupport.h"

#include "locus/runtime/train/Data.h"

using namespace locus::rt::train;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  const bool cifar100 = data[0] & 1;
  ImageSet set;
  set.channels = 3;
  set.height = set.width = 32;
  locus::rt::Status status = parseCifarBatch(data + 1, size - 1, "data_batch_1.bin", cifar100, set);
  if (!status.isOk()) {
    if (status.message().empty())
      locus::fuzz::violation("cifar", "an error without a message");
    return 0;
  }
  if (set.count < 1 || set.pixels.size() != static_cast<size_t>(set.count) * 3 * 32 * 32 ||
      set.labels.size() != static_cast<size_t>(set.count))
    locus::fuzz::violation("cifar", "the images or labels do not match the count");
  for (int32_t label : set.labels)
    if (label < 0 || label >= (cifar100 ? 100 : 10))
      locus::fuzz::violation("cifar", "a label outside the classes was accepted");
  return 0;
}
