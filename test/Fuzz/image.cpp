//===- image.cpp - fuzz target: JPEG and PNG images (image folders) -------===//
//
// decodeImage (ImageDecode.h), which decodes an image folder's files as the
// views need them: libjpeg-turbo and libpng behind locus's size limit. The
// input's first byte picks the channels (even: 1, odd: 3), the rest is the
// file. An image it accepts must be [channels, height, width] within the
// limit. The harness decodes at most 2^22 pixels, not kMaxImagePixels: a
// small file may legally declare a large image (arithmetic-coded JPEG goes
// on with zeros after a marker; a uniform PNG compresses 1000:1), and its
// decoding takes time in proportion (17.7 Mpixel from 102 bytes took 2.4 s
// here under ASan and coverage, 0.27 s in a release build): work the limit
// bounds, not a hang. The limit itself is tested by the unit tests.
//
//===----------------------------------------------------------------------===//
#include "FuzzSupport.h"

#include "locus/runtime/train/ImageDecode.h"

using namespace locus::rt::train;

constexpr int64_t kHarnessMaxPixels = int64_t(1) << 22;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  const int64_t channels = data[0] & 1 ? 3 : 1;
  std::vector<uint8_t> pixels;
  int64_t height = 0, width = 0;
  locus::rt::Status status =
      decodeImage(data + 1, size - 1, "train/c0/0.jpg", channels, pixels, height, width,
                  kHarnessMaxPixels);
  if (!status.isOk()) {
    if (status.message().empty())
      locus::fuzz::violation("image", "an error without a message");
    return 0;
  }
  if (height < 1 || width < 1 || height * width > kHarnessMaxPixels ||
      pixels.size() != static_cast<size_t>(channels * height * width))
    locus::fuzz::violation("image", "the pixels do not match the size");
  return 0;
}
