// Image folders (ImageFolder.cpp, ImageDecode.cpp): PNG and JPEG files the test writes with
// libpng and libjpeg, read back pixel for pixel (PNG exactly; JPEG of flat 16x16 blocks at
// quality 100, 4:4:4, within the colour conversion's rounding), classes sorted for labels, Tiny
// ImageNet's annotated validation split, grey conversion, and the errors that name the file.
#include "locus/runtime/train/Data.h"
#include "locus/runtime/train/ImageDecode.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <jpeglib.h>
#include <png.h>
#include <zlib.h>

namespace {

using namespace locus::rt;
using namespace locus::rt::train;
namespace fs = std::filesystem;

class TempDir {
public:
  TempDir() {
    path_ = fs::temp_directory_path() /
            ("locus-image-folder-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  fs::path operator/(const std::string &name) const { return path_ / name; }
  std::string str() const { return path_.string(); }

private:
  fs::path path_;
  static inline int counter_ = 0;
};

/// An interleaved RGB image [H, W, 3] of flat 16x16 blocks (JPEG keeps flat blocks).
std::vector<uint8_t> blocks(int h, int w, int salt) {
  std::vector<uint8_t> rgb(size_t(h) * w * 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c)
        rgb[(size_t(y) * w + x) * 3 + c] =
            static_cast<uint8_t>(40 + 50 * ((y / 16 + x / 16 + c + salt) % 4));
  return rgb;
}

void writePng(const fs::path &path, const std::vector<uint8_t> &rgb, int h, int w) {
  fs::create_directories(path.parent_path());
  png_image image;
  std::memset(&image, 0, sizeof(image));
  image.version = PNG_IMAGE_VERSION;
  image.width = w;
  image.height = h;
  image.format = PNG_FORMAT_RGB;
  ASSERT_TRUE(png_image_write_to_file(&image, path.c_str(), 0, rgb.data(), 0, nullptr))
      << image.message;
}

void writeJpeg(const fs::path &path, const std::vector<uint8_t> &rgb, int h, int w) {
  fs::create_directories(path.parent_path());
  FILE *file = std::fopen(path.c_str(), "wb");
  ASSERT_NE(file, nullptr);
  jpeg_compress_struct info;
  jpeg_error_mgr error;
  info.err = jpeg_std_error(&error);
  jpeg_create_compress(&info);
  jpeg_stdio_dest(&info, file);
  info.image_width = w;
  info.image_height = h;
  info.input_components = 3;
  info.in_color_space = JCS_RGB;
  jpeg_set_defaults(&info);
  jpeg_set_quality(&info, 100, TRUE);
  // 4:4:4: no chroma subsampling, whose smoothed upsampling blurs colour edges.
  info.comp_info[0].h_samp_factor = info.comp_info[0].v_samp_factor = 1;
  jpeg_start_compress(&info, TRUE);
  while (info.next_scanline < info.image_height) {
    JSAMPROW row = const_cast<uint8_t *>(rgb.data()) + size_t(info.next_scanline) * w * 3;
    jpeg_write_scanlines(&info, &row, 1);
  }
  jpeg_finish_compress(&info);
  jpeg_destroy_compress(&info);
  std::fclose(file);
}

void writeText(const fs::path &path, const std::string &text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

/// Checks image `i` of `set` against interleaved `rgb` within `tolerance`.
void expectPixels(const ImageSet &set, int64_t i, const std::vector<uint8_t> &rgb, int h, int w,
                  int tolerance) {
  std::vector<uint8_t> scratch;
  ImageRef image;
  Status s = set.read(i, scratch, image);
  ASSERT_TRUE(s.isOk()) << s.message();
  ASSERT_EQ(image.channels, 3);
  ASSERT_EQ(image.height, h);
  ASSERT_EQ(image.width, w);
  int worst = 0;
  for (int c = 0; c < 3; ++c)
    for (int k = 0; k < h * w; ++k)
      worst = std::max(worst, std::abs(int(image.pixels[c * h * w + k]) - int(rgb[k * 3 + c])));
  EXPECT_LE(worst, tolerance) << set.files[i];
}

TEST(TrainImageFolder, ReadsJpegAndPngFoldersPixelForPixel) {
  TempDir root;
  auto a = blocks(32, 48, 0), b = blocks(16, 16, 1), c = blocks(48, 32, 2), d = blocks(32, 32, 3);
  writePng(root / "train/dog/b.png", a, 32, 48);
  writeJpeg(root / "train/dog/sub/a.jpg", c, 48, 32); // any depth below the class
  writePng(root / "train/cat/x.PNG", b, 16, 16);
  writeText(root / "train/cat/notes.txt", "not an image");
  writeJpeg(root / "val/dog/v.jpeg", d, 32, 32);
  writePng(root / "val/cat/w.png", b, 16, 16);
  Dataset data;
  Status s = loadImageFolder(root.str(), 3, data);
  ASSERT_TRUE(s.isOk()) << s.message();
  EXPECT_EQ(data.classes, 2);
  ASSERT_EQ(data.train.count, 3);
  EXPECT_FALSE(data.train.inMemory());
  // Classes sorted by name: cat 0, dog 1; files sorted within a class.
  EXPECT_EQ(data.train.labels, (std::vector<int32_t>{0, 1, 1}));
  EXPECT_EQ(fs::path(data.train.files[1]).filename(), "b.png");
  EXPECT_EQ(fs::path(data.train.files[2]).filename(), "a.jpg");
  expectPixels(data.train, 0, b, 16, 16, 0);
  expectPixels(data.train, 1, a, 32, 48, 0);
  expectPixels(data.train, 2, c, 48, 32, 2);
  ASSERT_EQ(data.test.count, 2);
  EXPECT_EQ(data.test.labels, (std::vector<int32_t>{0, 1}));
  expectPixels(data.test, 1, d, 32, 32, 2);
  // Normalisation from the training images.
  ASSERT_EQ(data.norm.mean.size(), 3u);
  EXPECT_GT(data.norm.stddev[0], 0.05f);
}

TEST(TrainImageFolder, GreyModelsGetLuma) {
  TempDir root;
  auto a = blocks(16, 16, 0);
  writePng(root / "train/k/a.png", a, 16, 16);
  writePng(root / "val/k/a.png", a, 16, 16);
  Dataset data;
  ASSERT_TRUE(loadImageFolder(root.str(), 1, data).isOk());
  std::vector<uint8_t> scratch;
  ImageRef image;
  ASSERT_TRUE(data.train.read(0, scratch, image).isOk());
  ASSERT_EQ(image.channels, 1);
  for (int k = 0; k < 256; ++k)
    EXPECT_EQ(image.pixels[k],
              (a[k * 3] * 299 + a[k * 3 + 1] * 587 + a[k * 3 + 2] * 114 + 500) / 1000);
}

TEST(TrainImageFolder, TinyImageNetValidationAnnotations) {
  TempDir root;
  auto a = blocks(16, 16, 0);
  writePng(root / "train/n01/images/n01_0.png", a, 16, 16);
  writePng(root / "train/n02/images/n02_0.png", a, 16, 16);
  writePng(root / "val/images/val_0.png", a, 16, 16);
  writePng(root / "val/images/val_1.png", a, 16, 16);
  writeText(root / "val/val_annotations.txt", "val_0.png\tn02\t0\t0\t8\t8\nval_1.png\tn01\t1\t1\t9\t9\n");
  Dataset data;
  Status s = loadImageFolder(root.str(), 3, data);
  ASSERT_TRUE(s.isOk()) << s.message();
  EXPECT_EQ(data.test.labels, (std::vector<int32_t>{1, 0}));
  writeText(root / "val/val_annotations.txt", "val_0.png\tn09\t0\n");
  s = loadImageFolder(root.str(), 3, data);
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("val_annotations.txt:1: class 'n09'"), std::string::npos)
      << s.message();
}

TEST(TrainImageFolder, ErrorsNameTheFolderOrFile) {
  TempDir root;
  Dataset data;
  Status s = loadImageFolder(root.str(), 3, data);
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("no 'train' folder"), std::string::npos) << s.message();

  auto a = blocks(16, 16, 0);
  writePng(root / "train/cat/a.png", a, 16, 16);
  fs::create_directories(root / "train/dog");
  writePng(root / "val/cat/a.png", a, 16, 16);
  s = loadImageFolder(root.str(), 3, data);
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.message().find((root / "train/dog").string() + ": an empty class folder"),
            std::string::npos)
      << s.message();

  writePng(root / "train/dog/b.png", a, 16, 16);
  writePng(root / "val/bird/c.png", a, 16, 16);
  s = loadImageFolder(root.str(), 3, data);
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("class 'bird' is not one of the training split's 2 classes"),
            std::string::npos)
      << s.message();
  fs::remove_all(root / "val/bird");

  // An unreadable image loads (names only) and fails when a view reads it, naming it.
  writeText(root / "train/dog/broken.jpg", "\xff\xd8\xff garbage");
  writeText(root / "train/dog/c.png", "\x89PNG\r\n\x1a\n truncated");
  s = loadImageFolder(root.str(), 3, data);
  ASSERT_FALSE(s.isOk()) << "the normalisation statistics read every image of a small set";
  std::vector<uint8_t> scratch;
  ImageRef image;
  for (const char *name : {"broken.jpg", "c.png"}) {
    ImageSet set;
    set.channels = 3;
    set.count = 1;
    set.files = {(root / "train/dog" / name).string()};
    set.labels = {0};
    Status bad = set.read(0, scratch, image);
    ASSERT_FALSE(bad.isOk()) << name;
    EXPECT_NE(bad.message().find(set.files[0] + ": not a readable"), std::string::npos)
        << bad.message();
  }
  std::vector<uint8_t> text = {'h', 'e', 'l', 'l', 'o'};
  int64_t h = 0, w = 0;
  std::vector<uint8_t> pixels;
  s = decodeImage(text.data(), text.size(), "x.gif", 3, pixels, h, w);
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("x.gif: neither a JPEG nor a PNG"), std::string::npos);
}

// The pixel limit is checked from the header, before anything is decoded or
// allocated: a PNG header declaring 20000 x 20000 (more than kMaxImagePixels)
// and, with a lower limit, real 64 x 64 JPEG and PNG files are refused naming
// the file and the size.
TEST(TrainImageFolder, ImagesOverThePixelLimitAreRefusedFromTheirHeader) {
  // Signature, an IHDR chunk, an empty IDAT (libpng reads the header up to
  // the first image data) and IEND; each chunk's CRC over its type and data.
  std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  auto chunk = [&](std::vector<uint8_t> typeAndData) {
    const uint32_t length = static_cast<uint32_t>(typeAndData.size() - 4);
    const uint32_t crc = static_cast<uint32_t>(crc32(0, typeAndData.data(), typeAndData.size()));
    for (int shift : {24, 16, 8, 0})
      png.push_back(static_cast<uint8_t>(length >> shift));
    png.insert(png.end(), typeAndData.begin(), typeAndData.end());
    for (int shift : {24, 16, 8, 0})
      png.push_back(static_cast<uint8_t>(crc >> shift));
  };
  chunk({'I', 'H', 'D', 'R', 0, 0, 0x4e, 0x20, 0, 0, 0x4e, 0x20, 8, 2, 0, 0, 0});
  chunk({'I', 'D', 'A', 'T'});
  chunk({'I', 'E', 'N', 'D'});
  std::vector<uint8_t> pixels;
  int64_t h = 0, w = 0;
  Status s = decodeImage(png.data(), png.size(), "huge.png", 3, pixels, h, w);
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("huge.png: the image is 20000x20000 pixels (at most 134217728"),
            std::string::npos)
      << s.message();
  EXPECT_TRUE(pixels.empty()) << "refused before any pixel was allocated";

  TempDir root;
  auto rgb = blocks(64, 64, 1);
  writePng(root / "a.png", rgb, 64, 64);
  writeJpeg(root / "a.jpg", rgb, 64, 64);
  for (const char *name : {"a.png", "a.jpg"}) {
    std::ifstream in(root / name, std::ios::binary);
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), {});
    ASSERT_TRUE(decodeImage(bytes.data(), bytes.size(), name, 3, pixels, h, w, 4096).isOk());
    EXPECT_EQ(h * w, 4096);
    s = decodeImage(bytes.data(), bytes.size(), name, 3, pixels, h, w, 4095);
    ASSERT_FALSE(s.isOk()) << name;
    EXPECT_NE(s.message().find("64x64 pixels (at most 4095"), std::string::npos) << s.message();
    EXPECT_EQ(s.message().rfind(name, 0), 0u) << s.message();
  }
}

} // namespace
