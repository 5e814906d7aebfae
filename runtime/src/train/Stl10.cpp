//===- Stl10.cpp - STL-10 in its binary distribution ----------------------===//
//
// METHOD.md section 6: train_X.bin, train_y.bin, test_X.bin, test_y.bin and
// unlabeled_X.bin; images are uint8 3x96x96, each stored channel by channel
// in column-major order (byte c*9216 + x*96 + y is pixel (y, x) of channel
// c), labels 1-10. The encoder pretrains on the unlabeled split and the
// training split together, as the paper does; the probe trains on the
// training split and tests on the test split. Normalised with the
// pretraining images' per-channel statistics.
//
//===----------------------------------------------------------------------===//
#include "locus/runtime/train/Data.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fmt/format.h>
#include <sys/stat.h>

namespace locus::rt::train {

namespace {

constexpr int64_t kSide = 96, kPlane = kSide * kSide, kImage = 3 * kPlane;

} // namespace

Status parseStl10Images(const uint8_t *bytes, size_t size, const std::string &path,
                        ImageSet &out) {
  if (size == 0 || size % kImage != 0)
    return Status::error(fmt::format("{}: {} bytes, not a whole number of {}-byte STL-10 images "
                                     "(3x96x96)",
                                     path, size, kImage));
  const int64_t count = static_cast<int64_t>(size) / kImage;
  out.pixels.reserve(out.pixels.size() + count * kImage);
  for (int64_t i = 0; i < count; ++i) {
    const uint8_t *image = bytes + i * kImage;
    const size_t at = out.pixels.size();
    out.pixels.resize(at + kImage);
    uint8_t *dst = out.pixels.data() + at;
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t x = 0; x < kSide; ++x)
        for (int64_t y = 0; y < kSide; ++y)
          dst[c * kPlane + y * kSide + x] = image[c * kPlane + x * kSide + y];
  }
  out.count += count;
  return Status::success();
}

Status parseStl10Labels(const uint8_t *bytes, size_t size, const std::string &path,
                        const std::string &imagesName, ImageSet &out) {
  const size_t expected = static_cast<size_t>(out.count) - out.labels.size();
  if (size != expected)
    return Status::error(fmt::format("{}: {} labels for the {} images of {}", path,
                                     size > expected ? fmt::format("more than {}", expected)
                                                     : std::to_string(size),
                                     expected, imagesName));
  for (size_t i = 0; i < size; ++i) {
    if (bytes[i] < 1 || bytes[i] > 10)
      return Status::error(
          fmt::format("{}: label {} of image {}, STL-10's are 1-10", path, bytes[i], i));
    out.labels.push_back(bytes[i] - 1);
  }
  return Status::success();
}

namespace {

/// The images of an _X.bin file, appended to `out` in [C, H, W] order, one
/// image at a time (the unlabeled split is 2.7 GB).
Status readImages(const std::string &path, ImageSet &out) {
  FILE *file = std::fopen(path.c_str(), "rb");
  if (!file)
    return Status::error(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  struct stat st;
  if (::fstat(::fileno(file), &st) != 0 || st.st_size <= 0 || st.st_size % kImage != 0) {
    std::fclose(file);
    return Status::error(fmt::format("{}: {} bytes, not a whole number of {}-byte STL-10 images "
                                     "(3x96x96)",
                                     path, static_cast<long long>(st.st_size), kImage));
  }
  const int64_t count = st.st_size / kImage;
  std::vector<uint8_t> image(kImage);
  out.pixels.reserve(out.pixels.size() + count * kImage);
  for (int64_t i = 0; i < count; ++i) {
    if (std::fread(image.data(), 1, kImage, file) != size_t(kImage)) {
      std::fclose(file);
      return Status::error(fmt::format("{}: read error at image {}", path, i));
    }
    // Cannot fail: one whole image.
    (void)parseStl10Images(image.data(), image.size(), path, out);
  }
  std::fclose(file);
  return Status::success();
}

/// A split with its labels (1-10 in the file, 0-9 here).
Status readSplit(const std::string &dir, const std::string &split, ImageSet &out) {
  LOCUS_RETURN_IF_ERROR(readImages(dir + "/" + split + "_X.bin", out));
  const std::string path = dir + "/" + split + "_y.bin";
  FILE *file = std::fopen(path.c_str(), "rb");
  if (!file)
    return Status::error(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  // One byte more than the labels expected, to tell a longer file.
  std::vector<uint8_t> labels(static_cast<size_t>(out.count) - out.labels.size() + 1);
  const size_t got = std::fread(labels.data(), 1, labels.size(), file);
  std::fclose(file);
  return parseStl10Labels(labels.data(), got, path, split + "_X.bin", out);
}

} // namespace

Status loadStl10(const std::string &dir, Dataset &out) {
  out = Dataset{};
  out.name = "stl10";
  out.classes = 10;
  for (ImageSet *set : {&out.train, &out.test, &out.pretrain}) {
    set->channels = 3;
    set->height = set->width = kSide;
  }
  LOCUS_RETURN_IF_ERROR(readSplit(dir, "train", out.train));
  LOCUS_RETURN_IF_ERROR(readSplit(dir, "test", out.test));
  // Pretraining: the unlabeled split, then the training images.
  LOCUS_RETURN_IF_ERROR(readImages(dir + "/unlabeled_X.bin", out.pretrain));
  out.pretrain.pixels.insert(out.pretrain.pixels.end(), out.train.pixels.begin(),
                             out.train.pixels.end());
  out.pretrain.count += out.train.count;
  out.pretrain.labels.assign(static_cast<size_t>(out.pretrain.count), -1);
  out.norm = channelStatistics(out.pretrain);
  return Status::success();
}

} // namespace locus::rt::train
