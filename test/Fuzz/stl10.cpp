//===- stl10.cpp - fuzz target: STL-10 image and label files --------------===//
//
// parseStl10Images and parseStl10Labels (Data.h), which loadStl10 runs on
// each split's _X.bin and _y.bin: the input's first 4 bytes (little-endian)
// are the length of the _X.bin part that follows, the rest is _y.bin. What
// they accept must be whole images with a label 0-9 each.
//
//===----------------------------------------------------------------------===//
#include "FuzzSupport.h"

#include "locus/runtime/train/Data.h"

using namespace locus::rt::train;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 4)
    return 0;
  size_t imageBytes = size_t(data[0]) | size_t(data[1]) << 8 | size_t(data[2]) << 16 |
                      size_t(data[3]) << 24;
  data += 4;
  size -= 4;
  if (imageBytes > size)
    imageBytes = size;
  ImageSet set;
  set.channels = 3;
  set.height = set.width = 96;
  locus::rt::Status status = parseStl10Images(data, imageBytes, "train_X.bin", set);
  if (status.isOk())
    status = parseStl10Labels(data + imageBytes, size - imageBytes, "train_y.bin", "train_X.bin",
                              set);
  if (!status.isOk()) {
    if (status.message().empty())
      locus::fuzz::violation("stl10", "an error without a message");
    return 0;
  }
  if (set.count < 1 || set.pixels.size() != static_cast<size_t>(set.count) * 3 * 96 * 96 ||
      set.labels.size() != static_cast<size_t>(set.count))
    locus::fuzz::violation("stl10", "the images or labels do not match the count");
  for (int32_t label : set.labels)
    if (label < 0 || label > 9)
      locus::fuzz::violation("stl10", "a label outside 0-9 was accepted");
  return 0;
}
