//===- Cifar.cpp - CIFAR-10 in its binary distribution --------------------===//
//
// METHOD.md section 6: data_batch_1..5.bin (training) and test_batch.bin,
// each a run of 3073-byte records: the label (0-9), then the red, green and
// blue planes of a 32x32 image, row-major: already the [C, H, W] order the
// views read. Normalised with the training split's own per-channel mean and
// standard deviation.
//
//===----------------------------------------------------------------------===//
#include "locus/runtime/train/Data.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fmt/format.h>

namespace locus::rt::train {

namespace {

constexpr int64_t kSide = 32, kPlane = kSide * kSide, kRecord = 1 + 3 * kPlane;

/// Appends the records of one batch file to `out`.
Status readBatch(const std::string &path, ImageSet &out) {
  FILE *file = std::fopen(path.c_str(), "rb");
  if (!file)
    return Status::error(fmt::format("{}: cannot open: {} (CIFAR-10's binary version has "
                                     "data_batch_1..5.bin and test_batch.bin)",
                                     path, std::strerror(errno)));
  std::vector<uint8_t> bytes;
  uint8_t chunk[1 << 16];
  size_t got;
  while ((got = std::fread(chunk, 1, sizeof chunk, file)) > 0)
    bytes.insert(bytes.end(), chunk, chunk + got);
  const bool failed = std::ferror(file);
  std::fclose(file);
  if (failed)
    return Status::error(fmt::format("{}: read error", path));
  if (bytes.empty() || bytes.size() % kRecord != 0)
    return Status::error(fmt::format("{}: {} bytes, not a whole number of {}-byte CIFAR-10 "
                                     "records (label + 3x32x32)",
                                     path, bytes.size(), kRecord));
  const int64_t records = static_cast<int64_t>(bytes.size()) / kRecord;
  out.pixels.reserve(out.pixels.size() + records * 3 * kPlane);
  for (int64_t r = 0; r < records; ++r) {
    const uint8_t *record = bytes.data() + r * kRecord;
    if (record[0] > 9)
      return Status::error(
          fmt::format("{}: record {} has label {}, CIFAR-10's are 0-9", path, r, record[0]));
    out.labels.push_back(record[0]);
    out.pixels.insert(out.pixels.end(), record + 1, record + kRecord);
  }
  out.count += records;
  return Status::success();
}

} // namespace

Status loadCifar10(const std::string &dir, Dataset &out) {
  out = Dataset{};
  out.name = "cifar10";
  out.classes = 10;
  for (ImageSet *set : {&out.train, &out.test}) {
    set->channels = 3;
    set->height = set->width = kSide;
  }
  for (int b = 1; b <= 5; ++b)
    LOCUS_RETURN_IF_ERROR(readBatch(fmt::format("{}/data_batch_{}.bin", dir, b), out.train));
  LOCUS_RETURN_IF_ERROR(readBatch(dir + "/test_batch.bin", out.test));
  out.norm = channelStatistics(out.train);
  return Status::success();
}

} // namespace locus::rt::train
