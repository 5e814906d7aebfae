#include "locus/runtime/train/Data.h"

#include "locus/runtime/train/ImageDecode.h"
#include "locus/runtime/train/Random.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fmt/format.h>
#include <numeric>
#include <sys/stat.h>
#include <zlib.h>

namespace locus::rt::train {

namespace {

bool fileExists(const std::string &path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

/// Appends up to `count` more bytes of `file` (inflated when it is gzip; zlib reads plain files
/// as-is), fewer at its end.
Status readUpTo(gzFile file, const std::string &path, uint64_t count, std::vector<uint8_t> &out) {
  std::vector<uint8_t> chunk(static_cast<size_t>(std::min<uint64_t>(count, 1 << 20)));
  while (count > 0) {
    int got =
        gzread(file, chunk.data(), static_cast<unsigned>(std::min<uint64_t>(count, chunk.size())));
    if (got < 0) {
      int code = 0;
      return Status::error(fmt::format("{}: read error: {}", path, gzerror(file, &code)));
    }
    if (got == 0)
      break;
    out.insert(out.end(), chunk.data(), chunk.data() + got);
    count -= static_cast<uint64_t>(got);
  }
  return Status::success();
}

uint32_t bigEndian32(const uint8_t *p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

/// IDX files promising more bytes than this are refused (Fashion-MNIST's largest holds 47 MB).
constexpr uint64_t kMaxIdxBytes = uint64_t(1) << 40;

} // namespace

Status readIdx(const std::string &path, IdxArray &out) {
  gzFile file = gzopen(path.c_str(), "rb");
  if (!file)
    return Status::error(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  struct Closer {
    gzFile f;
    ~Closer() { gzclose(f); }
  } closer{file};
  // The header first; then no more data than it promises (and one byte to see a longer file).
  std::vector<uint8_t> bytes;
  LOCUS_RETURN_IF_ERROR(readUpTo(file, path, 4, bytes));
  if (bytes.size() < 4)
    return Status::error(fmt::format("{}: not an IDX file ({} bytes, no magic number)", path,
                                     bytes.size()));
  uint32_t magic = bigEndian32(bytes.data());
  if ((magic >> 16) != 0 || ((magic >> 8) & 0xff) != 0x08 || (magic & 0xff) == 0)
    return Status::error(fmt::format(
        "{}: bad IDX magic 0x{:08x} (expected 0x000008NN: unsigned bytes, NN dimensions)", path,
        magic));
  size_t rank = magic & 0xff;
  size_t header = 4 + 4 * rank;
  LOCUS_RETURN_IF_ERROR(readUpTo(file, path, header - 4, bytes));
  if (bytes.size() < header)
    return Status::error(fmt::format("{}: truncated IDX header ({} dimensions, {} bytes)", path,
                                     rank, bytes.size()));
  out.dims.clear();
  uint64_t count = 1;
  for (size_t i = 0; i < rank; ++i) {
    uint32_t d = bigEndian32(bytes.data() + 4 + 4 * i);
    // Divided, not multiplied: the product of the dimensions may not wrap around.
    if (d == 0 || count > kMaxIdxBytes / d)
      return Status::error(fmt::format("{}: bad IDX dimension {} = {}", path, i, d));
    out.dims.push_back(d);
    count *= d;
  }
  LOCUS_RETURN_IF_ERROR(readUpTo(file, path, count + 1, bytes));
  uint64_t held = bytes.size() - header;
  if (held > count) { // count the rest without keeping it
    std::vector<uint8_t> rest;
    do {
      rest.clear();
      LOCUS_RETURN_IF_ERROR(readUpTo(file, path, 1 << 20, rest));
      held += rest.size();
    } while (!rest.empty());
  }
  if (held != count)
    return Status::error(fmt::format("{}: IDX dimensions [{}] need {} data bytes, the file has {}",
                                     path, fmt::join(out.dims, ", "), count, held));
  out.data.assign(bytes.begin() + static_cast<std::ptrdiff_t>(header), bytes.end());
  return Status::success();
}

namespace {

/// `dir/name.gz`, or `dir/name` when only the uncompressed file exists.
std::string idxPath(const std::string &dir, const std::string &name) {
  std::string gz = dir + "/" + name + ".gz";
  if (!fileExists(gz) && fileExists(dir + "/" + name))
    return dir + "/" + name;
  return gz;
}

Status loadIdxSplit(const std::string &dir, const std::string &prefix, ImageSet &out) {
  std::string imagesPath = idxPath(dir, prefix + "-images-idx3-ubyte");
  std::string labelsPath = idxPath(dir, prefix + "-labels-idx1-ubyte");
  IdxArray images, labels;
  LOCUS_RETURN_IF_ERROR(readIdx(imagesPath, images));
  LOCUS_RETURN_IF_ERROR(readIdx(labelsPath, labels));
  if (images.dims.size() != 3)
    return Status::error(fmt::format("{}: expected 3 dimensions [count, rows, columns], got {}",
                                     imagesPath, images.dims.size()));
  if (labels.dims.size() != 1)
    return Status::error(fmt::format("{}: expected 1 dimension [count], got {}", labelsPath,
                                     labels.dims.size()));
  if (labels.dims[0] != images.dims[0])
    return Status::error(fmt::format("{} has {} labels for the {} images of {}", labelsPath,
                                     labels.dims[0], images.dims[0], imagesPath));
  out.count = images.dims[0];
  out.channels = 1;
  out.height = images.dims[1];
  out.width = images.dims[2];
  out.pixels = std::move(images.data);
  out.labels.assign(labels.data.begin(), labels.data.end());
  for (int64_t i = 0; i < out.count; ++i)
    if (out.labels[i] > 9)
      return Status::error(fmt::format("{}: label {} of image {} is not a class 0-9", labelsPath,
                                       out.labels[i], i));
  return Status::success();
}

} // namespace

Status loadFashionMnist(const std::string &dir, Dataset &out) {
  out = Dataset{};
  out.name = "fashion-mnist";
  out.classes = 10;
  out.norm = Normalization{{0.2860f}, {0.3530f}};
  LOCUS_RETURN_IF_ERROR(loadIdxSplit(dir, "train", out.train));
  return loadIdxSplit(dir, "t10k", out.test);
}

Status loadMnist(const std::string &dir, Dataset &out) {
  LOCUS_RETURN_IF_ERROR(loadFashionMnist(dir, out));
  out.name = "mnist";
  out.norm = Normalization{{0.1307f}, {0.3081f}};
  return Status::success();
}

Status ImageSet::read(int64_t i, std::vector<uint8_t> &scratch, ImageRef &out) const {
  if (inMemory()) {
    out = ImageRef{image(i), channels, height, width};
    return Status::success();
  }
  return decodeImageFile(files[i], channels, scratch, out);
}

Status channelStatistics(const ImageSet &set, Normalization &out, int64_t sampleFiles) {
  // Image files: a seeded sample, since decoding all of ImageNet to
  // normalise it would take longer than an epoch.
  std::vector<int64_t> which(set.count);
  std::iota(which.begin(), which.end(), 0);
  if (!set.inMemory() && set.count > sampleFiles) {
    Rng(mixSeed(0, Stream::Synthetic, 0)).shuffle(which.data(), set.count);
    which.resize(sampleFiles);
  }
  std::vector<double> sum(set.channels, 0.0), squares(set.channels, 0.0);
  double pixels = 0;
  std::vector<uint8_t> scratch;
  for (int64_t i : which) {
    ImageRef image;
    LOCUS_RETURN_IF_ERROR(set.read(i, scratch, image));
    const int64_t plane = image.height * image.width;
    for (int64_t c = 0; c < set.channels; ++c) {
      const uint8_t *p = image.pixels + c * plane;
      for (int64_t k = 0; k < plane; ++k) {
        const double v = p[k] / 255.0;
        sum[c] += v;
        squares[c] += v * v;
      }
    }
    pixels += double(plane);
  }
  out = Normalization{};
  for (int64_t c = 0; c < set.channels; ++c) {
    const double n = std::max(1.0, pixels);
    const double mean = sum[c] / n, var = std::max(squares[c] / n - mean * mean, 1e-12);
    out.mean.push_back(static_cast<float>(mean));
    out.stddev.push_back(static_cast<float>(std::sqrt(var)));
  }
  return Status::success();
}

Normalization channelStatistics(const ImageSet &set) {
  Normalization norm;
  // Sets in memory cannot fail to read.
  (void)channelStatistics(set, norm);
  return norm;
}

Dataset makeSynthetic(int64_t channels, int64_t height, int64_t width, int64_t trainCount,
                      int64_t testCount, uint64_t seed) {
  Dataset d;
  d.name = "synthetic";
  d.classes = 10;
  d.norm.mean.assign(channels, 0.5f);
  d.norm.stddev.assign(channels, 0.289f); // uniform [0, 1]: std 1/sqrt(12)
  uint64_t index = 0;
  for (ImageSet *set : {&d.train, &d.test}) {
    Rng rng(mixSeed(seed, Stream::Synthetic, index++));
    set->count = set == &d.train ? trainCount : testCount;
    set->channels = channels;
    set->height = height;
    set->width = width;
    set->pixels.resize(set->count * channels * height * width);
    for (uint8_t &p : set->pixels)
      p = static_cast<uint8_t>(rng.below(256));
    set->labels.resize(set->count);
    for (int32_t &l : set->labels)
      l = static_cast<int32_t>(rng.below(10));
  }
  return d;
}

Status parseDataSpec(const std::string &text, DataSpec &out) {
  size_t colon = text.find(':');
  std::string kind = text.substr(0, colon), arg = colon == std::string::npos ? "" : text.substr(colon + 1);
  out = DataSpec{};
  out.kind = kind;
  if (kind == "fashion-mnist") {
    if (!arg.empty())
      out.path = arg;
    return Status::success();
  }
  if (kind == "mnist" || kind == "cifar10" || kind == "cifar100" || kind == "stl10" ||
      kind == "folder") {
    if (arg.empty())
      return Status::error(fmt::format("--data {0} needs the directory it is in: --data {0}:{1}",
                                       kind, kind == "folder" ? "ROOT" : "DIR"));
    out.path = arg;
    return Status::success();
  }
  if (kind == "synthetic") {
    if (!arg.empty()) {
      char *end = nullptr;
      long long n = std::strtoll(arg.c_str(), &end, 10);
      if (*end != '\0' || n <= 0)
        return Status::error(fmt::format(
            "--data synthetic:{}: the image count must be a positive integer", arg));
      out.count = n;
    }
    return Status::success();
  }
  return Status::error(fmt::format(
      "--data {}: unknown data set '{}' (expected fashion-mnist:DIR, mnist:DIR, cifar10:DIR, "
      "cifar100:DIR, stl10:DIR, folder:ROOT or synthetic[:COUNT])", text,
      kind));
}

Status loadDataset(const DataSpec &spec, int64_t channels, int64_t height, int64_t width,
                   uint64_t seed, Dataset &out) {
  if (spec.kind == "synthetic") {
    out = makeSynthetic(channels, height, width, spec.count, std::max<int64_t>(spec.count / 4, 64),
                        seed);
    return Status::success();
  }
  if (spec.kind == "cifar10")
    LOCUS_RETURN_IF_ERROR(loadCifar10(spec.path, out));
  else if (spec.kind == "cifar100")
    LOCUS_RETURN_IF_ERROR(loadCifar100(spec.path, out));
  else if (spec.kind == "stl10")
    LOCUS_RETURN_IF_ERROR(loadStl10(spec.path, out));
  else if (spec.kind == "folder")
    return loadImageFolder(spec.path, channels, out);
  else if (spec.kind == "mnist")
    LOCUS_RETURN_IF_ERROR(loadMnist(spec.path, out));
  else
    LOCUS_RETURN_IF_ERROR(loadFashionMnist(spec.path, out));
  if (out.train.channels != channels)
    return Status::error(fmt::format(
        "the model takes {}-channel images, {} at {} has {} channel(s)", channels, out.name,
        spec.path, out.train.channels));
  return Status::success();
}

Status readFloatFile(const std::string &path, int64_t count, float *out) {
  FILE *file = std::fopen(path.c_str(), "rb");
  if (!file)
    return Status::error(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  std::fseek(file, 0, SEEK_END);
  long size = std::ftell(file);
  std::fseek(file, 0, SEEK_SET);
  if (size != static_cast<long>(count * sizeof(float))) {
    std::fclose(file);
    return Status::error(fmt::format(
        "{}: holds {} bytes, one step's views need exactly {} float32 values ({} bytes)", path,
        size, count, count * sizeof(float)));
  }
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  size_t got = std::fread(bytes.data(), 1, bytes.size(), file);
  std::fclose(file);
  if (got != bytes.size())
    return Status::error(fmt::format("{}: short read", path));
  // Little-endian on disk, whatever the host.
  for (int64_t i = 0; i < count; ++i) {
    const uint8_t *p = bytes.data() + 4 * i;
    uint32_t bits = uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) |
                    (uint32_t(p[3]) << 24);
    std::memcpy(out + i, &bits, 4);
  }
  return Status::success();
}

} // namespace locus::rt::train
