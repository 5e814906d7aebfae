//===- Cifar.cpp - CIFAR-10 and CIFAR-100 in their binary distribution ----===//
//
// METHOD.md section 6: CIFAR-10's data_batch_1..5.bin (training) and
// test_batch.bin, each a run of 3073-byte records: the label (0-9), then
// the red, green and blue planes of a 32x32 image, row-major: already the
// [C, H, W] order the views read. CIFAR-100's train.bin and test.bin: the
// same with two label bytes, coarse (0-19) then fine (0-99); the fine label
// is the class. Normalised with the training split's own per-channel mean
// and standard deviation.
//
//===----------------------------------------------------------------------===//
#include "locus/runtime/train/Data.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fmt/format.h>

namespace locus::rt::train {

namespace {

constexpr int64_t kSide = 32, kPlane = kSide * kSide, kImage = 3 * kPlane;

/// The record layout of one of the two data sets.
struct Layout {
  const char *name;
  int64_t labelBytes, labelIndex, classes;
  int64_t record() const { return labelBytes + kImage; }
};
constexpr Layout kCifar10{"CIFAR-10", 1, 0, 10}, kCifar100{"CIFAR-100", 2, 1, 100};

/// Reads the whole batch file `path` into `bytes`.
Status readFile(const std::string &path, const Layout &layout, std::vector<uint8_t> &bytes) {
  FILE *file = std::fopen(path.c_str(), "rb");
  if (!file)
    return Status::error(fmt::format("{}: cannot open: {} ({}'s binary version is expected)",
                                     path, std::strerror(errno), layout.name));
  uint8_t chunk[1 << 16];
  size_t got;
  while ((got = std::fread(chunk, 1, sizeof chunk, file)) > 0)
    bytes.insert(bytes.end(), chunk, chunk + got);
  const bool failed = std::ferror(file);
  std::fclose(file);
  if (failed)
    return Status::error(fmt::format("{}: read error", path));
  return Status::success();
}

/// Appends the records of one batch file's bytes to `out`.
Status parseBatch(const uint8_t *bytes, size_t size, const std::string &path,
                  const Layout &layout, ImageSet &out) {
  const int64_t kRecord = layout.record();
  if (size == 0 || size % kRecord != 0)
    return Status::error(fmt::format("{}: {} bytes, not a whole number of {}-byte {} records "
                                     "(label + 3x32x32)",
                                     path, size, kRecord, layout.name));
  const int64_t records = static_cast<int64_t>(size) / kRecord;
  out.pixels.reserve(out.pixels.size() + records * kImage);
  for (int64_t r = 0; r < records; ++r) {
    const uint8_t *record = bytes + r * kRecord;
    const uint8_t label = record[layout.labelIndex];
    if (label >= layout.classes)
      return Status::error(fmt::format("{}: record {} has label {}, {}'s are 0-{}", path, r,
                                       label, layout.name, layout.classes - 1));
    out.labels.push_back(label);
    out.pixels.insert(out.pixels.end(), record + layout.labelBytes, record + kRecord);
  }
  out.count += records;
  return Status::success();
}

/// Appends the records of one batch file to `out`.
Status readBatch(const std::string &path, const Layout &layout, ImageSet &out) {
  std::vector<uint8_t> bytes;
  LOCUS_RETURN_IF_ERROR(readFile(path, layout, bytes));
  return parseBatch(bytes.data(), bytes.size(), path, layout, out);
}

} // namespace

Status parseCifarBatch(const uint8_t *bytes, size_t size, const std::string &path,
                       bool cifar100, ImageSet &out) {
  return parseBatch(bytes, size, path, cifar100 ? kCifar100 : kCifar10, out);
}

namespace {
Dataset emptyCifar(const Layout &layout, const char *name) {
  Dataset d;
  d.name = name;
  d.classes = static_cast<int32_t>(layout.classes);
  for (ImageSet *set : {&d.train, &d.test}) {
    set->channels = 3;
    set->height = set->width = kSide;
  }
  return d;
}
} // namespace

Status loadCifar10(const std::string &dir, Dataset &out) {
  out = emptyCifar(kCifar10, "cifar10");
  for (int b = 1; b <= 5; ++b)
    LOCUS_RETURN_IF_ERROR(
        readBatch(fmt::format("{}/data_batch_{}.bin", dir, b), kCifar10, out.train));
  LOCUS_RETURN_IF_ERROR(readBatch(dir + "/test_batch.bin", kCifar10, out.test));
  out.norm = channelStatistics(out.train);
  return Status::success();
}

Status loadCifar100(const std::string &dir, Dataset &out) {
  out = emptyCifar(kCifar100, "cifar100");
  LOCUS_RETURN_IF_ERROR(readBatch(dir + "/train.bin", kCifar100, out.train));
  LOCUS_RETURN_IF_ERROR(readBatch(dir + "/test.bin", kCifar100, out.test));
  out.norm = channelStatistics(out.train);
  return Status::success();
}

} // namespace locus::rt::train
