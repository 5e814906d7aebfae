// Data for the training binary: IDX files (gzip or not) written by the test, their error
// messages, Fashion-MNIST loading from a directory, CIFAR and STL-10 binaries, synthetic data and
// the --fixed-batch reader. Views: TrainAugmentTest.cpp; image folders: TrainImageFolderTest.cpp.
#include "locus/runtime/train/Data.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <zlib.h>

namespace {

using namespace locus::rt;
using namespace locus::rt::train;
namespace fs = std::filesystem;

/// A fresh directory under the system temp dir, removed at the end of the test.
class TempDir {
public:
  TempDir() {
    path_ = fs::temp_directory_path() /
            ("locus-train-data-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string file(const std::string &name) const { return (path_ / name).string(); }

private:
  fs::path path_;
  static inline int counter_ = 0;
};

std::vector<uint8_t> idxBytes(uint8_t rank, const std::vector<uint32_t> &dims,
                              const std::vector<uint8_t> &data) {
  std::vector<uint8_t> out = {0, 0, 0x08, rank};
  for (uint32_t d : dims)
    for (int s = 24; s >= 0; s -= 8)
      out.push_back(static_cast<uint8_t>(d >> s));
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

void writeFile(const std::string &path, const std::vector<uint8_t> &bytes, bool gzip) {
  if (gzip) {
    gzFile f = gzopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())), int(bytes.size()));
    gzclose(f);
    return;
  }
  FILE *f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
}

std::vector<uint8_t> ramp(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i)
    v[i] = static_cast<uint8_t>(i * 7);
  return v;
}

TEST(TrainData, ReadsGzipAndPlainIdx) {
  TempDir dir;
  std::vector<uint8_t> data = ramp(3 * 4 * 5);
  for (bool gzip : {true, false}) {
    std::string path = dir.file(gzip ? "a.gz" : "a");
    writeFile(path, idxBytes(3, {3, 4, 5}, data), gzip);
    IdxArray idx;
    Status status = readIdx(path, idx);
    ASSERT_TRUE(status.isOk()) << status.message();
    EXPECT_EQ(idx.dims, (std::vector<int64_t>{3, 4, 5}));
    EXPECT_EQ(idx.data, data);
  }
}

TEST(TrainData, IdxErrorsNameTheFile) {
  TempDir dir;
  struct Case {
    std::vector<uint8_t> bytes;
    std::string expect;
  } cases[] = {
      {{1, 2}, "no magic number"},
      {{0, 0, 0x0d, 1, 0, 0, 0, 2, 1, 2}, "bad IDX magic"},            // float data type
      {idxBytes(2, {2, 3}, ramp(5)), "need 6 data bytes, the file has 5"}, // truncated
      {idxBytes(1, {2}, ramp(3)), "need 2 data bytes, the file has 3"},    // trailing bytes
      {{0, 0, 0x08, 2, 0, 0, 0}, "truncated IDX header"},
  };
  int k = 0;
  for (const Case &c : cases) {
    std::string path = dir.file("bad" + std::to_string(k++) + ".gz");
    writeFile(path, c.bytes, true);
    IdxArray idx;
    Status status = readIdx(path, idx);
    ASSERT_FALSE(status.isOk()) << c.expect;
    EXPECT_NE(status.message().find(path), std::string::npos) << status.message();
    EXPECT_NE(status.message().find(c.expect), std::string::npos) << status.message();
  }
  IdxArray idx;
  Status missing = readIdx(dir.file("missing.gz"), idx);
  ASSERT_FALSE(missing.isOk());
  EXPECT_NE(missing.message().find("missing.gz"), std::string::npos);
}

// Hostile IDX headers (issue 14): a header that promises more than the file holds, or
// dimensions whose product overflows, is refused naming the file and the field, without
// reading (or allocating) what the header promises.
TEST(TrainData, IdxHeadersThatPromiseTooMuchAreRefused) {
  TempDir dir;
  struct Case {
    std::vector<uint8_t> bytes;
    std::string expect;
  } cases[] = {
      // Fashion-MNIST's training images header over 10 bytes.
      {idxBytes(3, {60000, 28, 28}, ramp(10)), "need 47040000 data bytes, the file has 10"},
      // 2^31 * 4 * 2^31 = 2^64 wraps to 0 in 64 bits: refused, not read as an empty array.
      {idxBytes(3, {0x80000000u, 4, 0x80000000u}, {}), "bad IDX dimension 2 = 2147483648"},
      // 2^41 bytes: beyond the limit of 2^40.
      {idxBytes(3, {1u << 20, 1u << 20, 2}, ramp(4)), "bad IDX dimension 2 = 2"},
      {idxBytes(2, {3, 0}, {}), "bad IDX dimension 1 = 0"},
      // 255 dimensions promised, two given.
      {idxBytes(255, {1, 1}, {}), "truncated IDX header (255 dimensions, 12 bytes)"},
      // Far more data than the header says: counted, not kept.
      {idxBytes(1, {4}, ramp(3 << 20)), "need 4 data bytes, the file has 3145728"},
  };
  int k = 0;
  for (const Case &c : cases)
    for (bool gzip : {true, false}) {
      std::string path = dir.file("hostile" + std::to_string(k++) + (gzip ? ".gz" : ""));
      writeFile(path, c.bytes, gzip);
      IdxArray idx;
      Status status = readIdx(path, idx);
      ASSERT_FALSE(status.isOk()) << c.expect;
      EXPECT_NE(status.message().find(path + ": "), std::string::npos) << status.message();
      EXPECT_NE(status.message().find(c.expect), std::string::npos) << status.message();
    }
}

TEST(TrainData, LoadsAFashionMnistDirectory) {
  TempDir dir;
  std::vector<uint8_t> labels = {0, 1, 2, 9};
  writeFile(dir.file("train-images-idx3-ubyte.gz"), idxBytes(3, {4, 28, 28}, ramp(4 * 784)), true);
  writeFile(dir.file("train-labels-idx1-ubyte.gz"), idxBytes(1, {4}, labels), true);
  // The test split uncompressed: both forms are accepted.
  writeFile(dir.file("t10k-images-idx3-ubyte"), idxBytes(3, {2, 28, 28}, ramp(2 * 784)), false);
  writeFile(dir.file("t10k-labels-idx1-ubyte"), idxBytes(1, {2}, {3, 4}), false);
  Dataset data;
  Status status = loadFashionMnist(dir.file(""), data);
  ASSERT_TRUE(status.isOk()) << status.message();
  EXPECT_EQ(data.train.count, 4);
  EXPECT_EQ(data.train.height, 28);
  EXPECT_EQ(data.train.labels, (std::vector<int32_t>{0, 1, 2, 9}));
  EXPECT_EQ(data.test.count, 2);
  EXPECT_EQ(data.train.pixels[785], static_cast<uint8_t>(785 * 7));
  EXPECT_FLOAT_EQ(data.norm.mean[0], 0.2860f);

  // Labels that do not match the image count.
  writeFile(dir.file("train-labels-idx1-ubyte.gz"), idxBytes(1, {3}, {0, 1, 2}), true);
  status = loadFashionMnist(dir.file(""), data);
  ASSERT_FALSE(status.isOk());
  EXPECT_NE(status.message().find("has 3 labels for the 4 images"), std::string::npos)
      << status.message();
}

TEST(TrainData, RealFashionMnistWhenInstalled) {
  const std::string dir = "/usr/share/datasets/fashion-mnist";
  if (!fs::exists(dir + "/train-images-idx3-ubyte.gz"))
    GTEST_SKIP() << "dataset-fashion-mnist is not installed at " << dir;
  Dataset data;
  Status status = loadFashionMnist(dir, data);
  ASSERT_TRUE(status.isOk()) << status.message();
  EXPECT_EQ(data.train.count, 60000);
  EXPECT_EQ(data.test.count, 10000);
  EXPECT_EQ(data.train.height, 28);
  EXPECT_EQ(data.train.width, 28);
  // The data set's own statistics (the normalisation constants).
  double sum = 0;
  for (uint8_t p : data.train.pixels)
    sum += p / 255.0;
  EXPECT_NEAR(sum / data.train.pixels.size(), 0.2860, 1e-3);
}

/// A CIFAR-10 batch file of `labels.size()` records: label, then 3x32x32
/// pixels whose value encodes (record, channel, row, column).
std::vector<uint8_t> cifarBatch(const std::vector<uint8_t> &labels, int salt) {
  std::vector<uint8_t> out;
  for (size_t r = 0; r < labels.size(); ++r) {
    out.push_back(labels[r]);
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < 32; ++y)
        for (int x = 0; x < 32; ++x)
          out.push_back(static_cast<uint8_t>(salt * 31 + r * 17 + c * 5 + y * 3 + x));
  }
  return out;
}

TEST(TrainData, LoadsCifar10BinaryBatches) {
  TempDir dir;
  for (int b = 1; b <= 5; ++b)
    writeFile(dir.file("data_batch_" + std::to_string(b) + ".bin"),
              cifarBatch({uint8_t(b), uint8_t(9 - b)}, b), false);
  writeFile(dir.file("test_batch.bin"), cifarBatch({7}, 9), false);
  Dataset d;
  Status s = loadCifar10(dir.file(""), d);
  ASSERT_TRUE(s.isOk()) << s.message();
  EXPECT_EQ(d.name, "cifar10");
  ASSERT_EQ(d.train.count, 10);
  ASSERT_EQ(d.test.count, 1);
  EXPECT_EQ(d.train.channels, 3);
  EXPECT_EQ(d.train.height, 32);
  // Batches in order, records in order; planes R, G, B row-major.
  EXPECT_EQ(d.train.labels, (std::vector<int32_t>{1, 8, 2, 7, 3, 6, 4, 5, 5, 4}));
  EXPECT_EQ(d.test.labels, (std::vector<int32_t>{7}));
  const int64_t image = 3 * 32 * 32;
  for (int64_t i : {0, 3, 9})
    for (int c : {0, 2})
      for (int y : {0, 31})
        for (int x : {0, 30}) {
          const int b = int(i / 2) + 1, r = int(i % 2);
          EXPECT_EQ(d.train.pixels[i * image + c * 1024 + y * 32 + x],
                    uint8_t(b * 31 + r * 17 + c * 5 + y * 3 + x))
              << i << " " << c << " " << y << " " << x;
        }
  // The training split's own per-channel statistics.
  for (int c = 0; c < 3; ++c) {
    double sum = 0, squares = 0;
    for (int64_t i = 0; i < d.train.count; ++i)
      for (int p = 0; p < 1024; ++p) {
        double v = d.train.pixels[i * image + c * 1024 + p] / 255.0;
        sum += v;
        squares += v * v;
      }
    double mean = sum / (10 * 1024);
    EXPECT_NEAR(d.norm.mean[c], mean, 1e-6);
    EXPECT_NEAR(d.norm.stddev[c], std::sqrt(squares / (10 * 1024) - mean * mean), 1e-5);
  }
}

TEST(TrainData, LoadsCifar100WithItsFineLabels) {
  TempDir dir;
  // Records: coarse label, fine label, the planes (cifarBatch's after its label).
  auto batch = [](const std::vector<std::pair<uint8_t, uint8_t>> &labels, int salt) {
    std::vector<uint8_t> fine;
    for (auto [coarse, f] : labels)
      fine.push_back(f);
    std::vector<uint8_t> one = cifarBatch(fine, salt), out;
    for (size_t r = 0; r < labels.size(); ++r) {
      out.push_back(labels[r].first);
      out.insert(out.end(), one.begin() + r * 3073, one.begin() + (r + 1) * 3073);
    }
    return out;
  };
  writeFile(dir.file("train.bin"), batch({{3, 42}, {19, 99}, {0, 0}}, 1), false);
  writeFile(dir.file("test.bin"), batch({{7, 77}}, 2), false);
  Dataset d;
  Status s = loadCifar100(dir.file(""), d);
  ASSERT_TRUE(s.isOk()) << s.message();
  EXPECT_EQ(d.classes, 100);
  EXPECT_EQ(d.train.labels, (std::vector<int32_t>{42, 99, 0}));
  EXPECT_EQ(d.test.labels, (std::vector<int32_t>{77}));
  EXPECT_EQ(d.train.pixels[1 * 3072 + 2 * 1024 + 5 * 32 + 7], uint8_t(31 + 17 + 10 + 15 + 7));
  writeFile(dir.file("test.bin"), batch({{7, 100}}, 2), false);
  s = loadCifar100(dir.file(""), d);
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("test.bin: record 0 has label 100, CIFAR-100's are 0-99"),
            std::string::npos)
      << s.message();
}

TEST(TrainData, Cifar10ErrorsNameTheFile) {
  TempDir dir;
  for (int b = 1; b <= 5; ++b)
    if (b != 3)
      writeFile(dir.file("data_batch_" + std::to_string(b) + ".bin"), cifarBatch({1}, b), false);
  Dataset d;
  Status s = loadCifar10(dir.file(""), d);
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("data_batch_3.bin: cannot open"), std::string::npos) << s.message();
  std::vector<uint8_t> truncated = cifarBatch({1, 2}, 3);
  truncated.pop_back();
  writeFile(dir.file("data_batch_3.bin"), truncated, false);
  s = loadCifar10(dir.file(""), d);
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("data_batch_3.bin: 6145 bytes, not a whole number of 3073-byte "
                             "CIFAR-10 records"),
            std::string::npos)
      << s.message();
  writeFile(dir.file("data_batch_3.bin"), cifarBatch({1, 12}, 3), false);
  s = loadCifar10(dir.file(""), d);
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("data_batch_3.bin: record 1 has label 12"), std::string::npos)
      << s.message();
}

/// STL-10 images as distributed: each channel column-major; pixel (y, x) of
/// channel c of image i encodes (salt, i, c, y, x).
std::vector<uint8_t> stlImages(int count, int salt) {
  std::vector<uint8_t> out;
  for (int i = 0; i < count; ++i)
    for (int c = 0; c < 3; ++c)
      for (int x = 0; x < 96; ++x)
        for (int y = 0; y < 96; ++y)
          out.push_back(static_cast<uint8_t>(salt * 41 + i * 13 + c * 7 + y * 5 + x * 2));
  return out;
}

TEST(TrainData, LoadsStl10WithItsUnlabeledSplit) {
  TempDir dir;
  writeFile(dir.file("train_X.bin"), stlImages(2, 1), false);
  writeFile(dir.file("train_y.bin"), {3, 10}, false);
  writeFile(dir.file("test_X.bin"), stlImages(1, 2), false);
  writeFile(dir.file("test_y.bin"), {1}, false);
  writeFile(dir.file("unlabeled_X.bin"), stlImages(3, 3), false);
  Dataset d;
  Status s = loadStl10(dir.file(""), d);
  ASSERT_TRUE(s.isOk()) << s.message();
  EXPECT_EQ(d.name, "stl10");
  EXPECT_EQ(d.train.count, 2);
  EXPECT_EQ(d.test.count, 1);
  EXPECT_EQ(d.train.labels, (std::vector<int32_t>{2, 9}));
  EXPECT_EQ(d.test.labels, (std::vector<int32_t>{0}));
  // Pretraining: the unlabeled images, then the training ones; unlabelled.
  ASSERT_EQ(d.pretrain.count, 5);
  EXPECT_EQ(&d.steps(), &d.pretrain);
  EXPECT_EQ(d.pretrain.labels, (std::vector<int32_t>(5, -1)));
  const int64_t image = 3 * 96 * 96;
  auto expect = [&](const ImageSet &set, int64_t i, int salt, int source) {
    for (int c : {0, 2})
      for (int y : {0, 1, 95})
        for (int x : {0, 2, 94})
          EXPECT_EQ(set.pixels[i * image + c * 9216 + y * 96 + x],
                    uint8_t(salt * 41 + source * 13 + c * 7 + y * 5 + x * 2))
              << i << " " << c << " " << y << " " << x;
  };
  expect(d.train, 1, 1, 1);
  expect(d.test, 0, 2, 0);
  expect(d.pretrain, 2, 3, 2);
  expect(d.pretrain, 3, 1, 0);
  Normalization stats = channelStatistics(d.pretrain);
  EXPECT_EQ(d.norm.mean, stats.mean);

  writeFile(dir.file("test_y.bin"), {1, 2}, false);
  s = loadStl10(dir.file(""), d);
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("test_y.bin: more than 1 labels for the 1 images of test_X.bin"),
            std::string::npos)
      << s.message();
  writeFile(dir.file("test_y.bin"), {11}, false);
  s = loadStl10(dir.file(""), d);
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("test_y.bin: label 11 of image 0, STL-10's are 1-10"),
            std::string::npos)
      << s.message();
  writeFile(dir.file("test_y.bin"), {1}, false);
  std::vector<uint8_t> cut = stlImages(3, 3);
  cut.resize(cut.size() - 5);
  writeFile(dir.file("unlabeled_X.bin"), cut, false);
  s = loadStl10(dir.file(""), d);
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("unlabeled_X.bin: 82939 bytes, not a whole number of 27648-byte"),
            std::string::npos)
      << s.message();
}

TEST(TrainData, DataSpecs) {
  DataSpec spec;
  ASSERT_TRUE(parseDataSpec("fashion-mnist:/x/y", spec).isOk());
  EXPECT_EQ(spec.kind, "fashion-mnist");
  EXPECT_EQ(spec.path, "/x/y");
  ASSERT_TRUE(parseDataSpec("synthetic:100", spec).isOk());
  EXPECT_EQ(spec.kind, "synthetic");
  EXPECT_EQ(spec.count, 100);
  EXPECT_FALSE(parseDataSpec("synthetic:0", spec).isOk());
  ASSERT_TRUE(parseDataSpec("cifar10:/data/cifar", spec).isOk());
  EXPECT_EQ(spec.kind, "cifar10");
  EXPECT_EQ(spec.path, "/data/cifar");
  Status noDir = parseDataSpec("cifar10", spec);
  ASSERT_FALSE(noDir.isOk());
  EXPECT_NE(noDir.message().find("--data cifar10:DIR"), std::string::npos);
  Status bad = parseDataSpec("imagenet:/data", spec);
  ASSERT_FALSE(bad.isOk());
  EXPECT_NE(bad.message().find("unknown data set 'imagenet'"), std::string::npos);
}

TEST(TrainData, SyntheticDataIsSeeded) {
  Dataset a = makeSynthetic(3, 8, 8, 10, 5, 1), b = makeSynthetic(3, 8, 8, 10, 5, 1),
          c = makeSynthetic(3, 8, 8, 10, 5, 2);
  EXPECT_EQ(a.train.pixels.size(), 10u * 3 * 8 * 8);
  EXPECT_EQ(a.test.count, 5);
  EXPECT_EQ(a.train.pixels, b.train.pixels);
  EXPECT_EQ(a.test.labels, b.test.labels);
  EXPECT_NE(a.train.pixels, c.train.pixels);
}

TEST(TrainData, FixedBatchFileMustHoldExactlyOneStep) {
  TempDir dir;
  std::string path = dir.file("batch.f32");
  std::vector<uint8_t> bytes = {0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0}; // 1.0f, -2.0f little-endian
  writeFile(path, bytes, false);
  float out[2];
  ASSERT_TRUE(readFloatFile(path, 2, out).isOk());
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[1], -2.0f);
  Status status = readFloatFile(path, 3, out);
  ASSERT_FALSE(status.isOk());
  EXPECT_NE(status.message().find("exactly 3 float32"), std::string::npos) << status.message();
}

} // namespace
