//===- ImageDecode.h - JPEG and PNG files to uint8 planes -------*- C++ -*-===//
//
// Image folders (Tiny ImageNet, ImageNet) are decoded by Debian's
// libjpeg-turbo and libpng as a view needs an image. Like torchvision's
// ImageFolder (PIL's convert), colour images keep their R, G, B values (an
// alpha channel is dropped) and grey images become luma
// (0.299 R + 0.587 G + 0.114 B).
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_TRAIN_IMAGEDECODE_H
#define LOCUS_RUNTIME_TRAIN_IMAGEDECODE_H

#include "locus/runtime/train/Data.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace locus::rt::train {

/// The largest image decoded (pixels); a bigger header is refused before
/// any allocation, so a corrupt file cannot ask for gigabytes.
constexpr int64_t kMaxImagePixels = int64_t(1) << 27;

/// Decodes the JPEG or PNG in `bytes` (told apart by their signatures) to
/// `channels` (1 or 3) planes: `pixels` becomes [channels, height, width].
/// An image of more than `maxPixels` is refused before it is decoded.
/// Errors name `path`.
Status decodeImage(const uint8_t *bytes, size_t size, const std::string &path, int64_t channels,
                   std::vector<uint8_t> &pixels, int64_t &height, int64_t &width,
                   int64_t maxPixels = kMaxImagePixels);

/// Reads and decodes `path` into `scratch`; `out` points into it.
Status decodeImageFile(const std::string &path, int64_t channels, std::vector<uint8_t> &scratch,
                       ImageRef &out);

} // namespace locus::rt::train

#endif
