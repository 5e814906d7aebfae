//===- idx.cpp - fuzz target: IDX files (MNIST, Fashion-MNIST) ------------===//
//
// readIdx (Data.h) on a file holding the input, gzip or not (zlib inflates
// what starts with gzip's magic). An array it accepts must be as large as
// its dimensions say (the loaders index images by them).
//
//===----------------------------------------------------------------------===//
#include "FuzzSupport.h"

#include "locus/runtime/train/Data.h"

using namespace locus::rt::train;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static locus::fuzz::ScratchFile scratch("train-images-idx3-ubyte");
  const std::string &path = scratch.write(data, size);
  IdxArray array;
  locus::rt::Status status = readIdx(path, array);
  if (!status.isOk()) {
    if (status.message().empty())
      locus::fuzz::violation("idx", "an error without a message");
    return 0;
  }
  if (array.dims.empty())
    locus::fuzz::violation("idx", "an array without dimensions was accepted");
  unsigned __int128 count = 1;
  for (int64_t d : array.dims) {
    if (d < 1)
      locus::fuzz::violation("idx", "a dimension below 1 was accepted");
    count *= static_cast<unsigned __int128>(d);
  }
  if (count != array.data.size())
    locus::fuzz::violation("idx", "the dimensions do not match the data");
  return 0;
}
