//===- Data.h - image data sets for training and evaluation ----*- C++ -*-===//
//
// Images of the binary formats stay as uint8 [count, C, H, W] in memory
// (Fashion-MNIST's 60000 images are 47 MB, STL-10's 105000 2.9 GB); image
// folders keep only their file names and decode an image when a view needs
// it (ImageFolder.cpp), so no whole-ImageNet sits in memory. Views are
// rendered as float32 per step by Augment.h. Loaders validate magic numbers,
// dimensions and sizes and name the file in every error.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_TRAIN_DATA_H
#define LOCUS_RUNTIME_TRAIN_DATA_H

#include "locus/runtime/Error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace locus::rt::train {

/// One decoded image: uint8 [channels, height, width].
struct ImageRef {
  const uint8_t *pixels = nullptr;
  int64_t channels = 0, height = 0, width = 0;
};

struct ImageSet {
  /// height and width are every image's for sets held in memory; 0 for
  /// image files, whose sizes differ.
  int64_t count = 0, channels = 0, height = 0, width = 0;
  std::vector<uint8_t> pixels; ///< [count, C, H, W] when held in memory
  std::vector<int32_t> labels; ///< [count]
  /// When not empty: image i is decoded from files[i] as it is needed.
  std::vector<std::string> files;
  bool inMemory() const { return files.empty(); }
  const uint8_t *image(int64_t i) const { return pixels.data() + i * channels * height * width; }
  /// Image i: a view of `pixels`, or files[i] decoded into `scratch` with
  /// `channels` channels (grey replicated, colour reduced to luma).
  Status read(int64_t i, std::vector<uint8_t> &scratch, ImageRef &out) const;
};

/// Per-channel normalisation applied after scaling pixels to [0, 1].
struct Normalization {
  std::vector<float> mean, stddev;
};

struct Dataset {
  std::string name;
  ImageSet train, test;
  /// Where the training steps draw from when it is not empty (STL-10: the
  /// unlabeled split and the training split; labels -1); the probe always
  /// trains on `train`.
  ImageSet pretrain;
  const ImageSet &steps() const { return pretrain.count ? pretrain : train; }
  int32_t classes = 0;
  Normalization norm;
};

/// An IDX array (MNIST format): big-endian magic 0x000008NN with NN dims,
/// big-endian uint32 dims, then uint8 data. gzip is detected and inflated.
struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<uint8_t> data;
};
Status readIdx(const std::string &path, IdxArray &out);

/// Fashion-MNIST from `dir` (train-images-idx3-ubyte[.gz] etc.); mean 0.2860,
/// std 0.3530.
Status loadFashionMnist(const std::string &dir, Dataset &out);
/// MNIST, the same files; mean 0.1307, std 0.3081.
Status loadMnist(const std::string &dir, Dataset &out);

/// Per-channel mean and standard deviation of a set's pixels scaled to [0, 1]
/// (image files: of a seeded sample of at most `sampleFiles` of them).
Status channelStatistics(const ImageSet &set, Normalization &out, int64_t sampleFiles = 2000);
Normalization channelStatistics(const ImageSet &set);
/// Image folders `ROOT/train/<class>/...` and `ROOT/val/<class>/...` (or
/// `test/`; Tiny ImageNet's `val/images` + `val_annotations.txt` too), JPEG
/// and PNG, classes sorted by name for their label indices (ImageFolder.cpp);
/// decoded to `channels` channels.
Status loadImageFolder(const std::string &root, int64_t channels, Dataset &out);
/// STL-10's binary version from `dir` (train_X/_y, test_X/_y, unlabeled_X;
/// Stl10.cpp): pretraining on unlabeled + train, normalised with their
/// per-channel statistics.
Status loadStl10(const std::string &dir, Dataset &out);
/// CIFAR-10's binary version from `dir` (data_batch_1..5.bin, test_batch.bin;
/// Cifar.cpp), normalised with the training split's per-channel statistics.
Status loadCifar10(const std::string &dir, Dataset &out);
/// CIFAR-100's binary version (train.bin, test.bin), its 100 fine classes.
Status loadCifar100(const std::string &dir, Dataset &out);
/// The binary formats' parsers on bytes in memory: the loaders above call
/// them on each file's bytes (and the fuzz targets, test/Fuzz, directly).
/// Errors name `path`. Each appends to `out`, which keeps its channels,
/// height and width.
/// One CIFAR-10 (or, with `cifar100`, CIFAR-100) batch file: its records.
Status parseCifarBatch(const uint8_t *bytes, size_t size, const std::string &path, bool cifar100,
                       ImageSet &out);
/// STL-10 _X.bin bytes: a whole number of column-major 3x96x96 images,
/// appended in [C, H, W] order.
Status parseStl10Images(const uint8_t *bytes, size_t size, const std::string &path,
                        ImageSet &out);
/// STL-10 _y.bin bytes: one label 1-10 for each image of `out` that has none
/// yet (`imagesName`, their file, for errors); stored as 0-9.
Status parseStl10Labels(const uint8_t *bytes, size_t size, const std::string &path,
                        const std::string &imagesName, ImageSet &out);
/// Random uint8 images with random labels (10 classes), for benchmarks.
Dataset makeSynthetic(int64_t channels, int64_t height, int64_t width, int64_t trainCount,
                      int64_t testCount, uint64_t seed);

/// `--data KIND[:ARG]`: fashion-mnist:DIR, mnist:DIR, cifar10:DIR, cifar100:DIR,
/// stl10:DIR, folder:ROOT or synthetic[:COUNT].
struct DataSpec {
  std::string kind = "fashion-mnist";
  std::string path = "/usr/share/datasets/fashion-mnist";
  int64_t count = 4096; ///< synthetic training images
};
Status parseDataSpec(const std::string &text, DataSpec &out);
/// Loads the data set and checks it fits a model input of C channels.
Status loadDataset(const DataSpec &spec, int64_t channels, int64_t height, int64_t width,
                   uint64_t seed, Dataset &out);

/// `--fixed-batch`: exactly `count` little-endian float32 values.
Status readFloatFile(const std::string &path, int64_t count, float *out);

} // namespace locus::rt::train

#endif
