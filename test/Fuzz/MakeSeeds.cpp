//===- MakeSeeds.cpp - writes the generated part of the seed corpus -------===//
//
//   locus-fuzz-make-seeds CORPUS [MODEL.so]
//
// Writes small valid inputs of every runtime format into CORPUS/<target>/
// (gen-*): safetensors checkpoints (weights for the safetensors target's
// two-parameter model, a training state with BF16 moments), IDX arrays
// (plain and gzip), CIFAR-10/100 records, an STL-10 image with its label,
// PNG and JPEG images of a few pixels; and, given a compiled test model
// (build/test/Unit/models/tiny.so), its record in the descriptor target's
// encoding (ModelRecordCodec.h). The spec seeds are copies of the examples
// and test specs (scripts/fuzz-campaign.sh --make-corpus).
//
//===----------------------------------------------------------------------===//
#include "ModelRecordCodec.h"

#include "locus/runtime/train/Checkpoint.h"

#include <cstdio>
#include <cstdlib>
#include <dlfcn.h>
#include <jpeglib.h>
#include <png.h>
#include <string>
#include <sys/stat.h>
#include <vector>
#include <zlib.h>

using namespace locus;
using ByteVec = std::vector<uint8_t>;

namespace {

std::string corpus;

void write(const std::string &target, const std::string &name, const void *data, size_t size) {
  std::string dir = corpus + "/" + target;
  ::mkdir(corpus.c_str(), 0755);
  ::mkdir(dir.c_str(), 0755);
  std::string path = dir + "/gen-" + name;
  FILE *file = std::fopen(path.c_str(), "wb");
  if (!file || std::fwrite(data, 1, size, file) != size || std::fclose(file) != 0) {
    std::perror(path.c_str());
    std::exit(1);
  }
  std::printf("%s (%zu bytes)\n", path.c_str(), size);
}
void write(const std::string &target, const std::string &name, const ByteVec &bytes) {
  write(target, name, bytes.data(), bytes.size());
}

ByteVec readFile(const std::string &path) {
  ByteVec bytes;
  FILE *file = std::fopen(path.c_str(), "rb");
  if (!file) {
    std::perror(path.c_str());
    std::exit(1);
  }
  int c;
  while ((c = std::fgetc(file)) != EOF)
    bytes.push_back(static_cast<uint8_t>(c));
  std::fclose(file);
  return bytes;
}

void safetensors() {
  const float w[6] = {0.5f, -1.0f, 2.0f, 0.0f, 1.5f, -0.25f}, b[3] = {0.1f, 0.2f, 0.3f};
  const uint16_t m[6] = {0x3f00, 0xbf80, 0x4000, 0, 0x3fc0, 0xbe80};
  std::string tmp = corpus + "/.tmp.safetensors";
  auto make = [&](const std::string &name, const std::vector<rt::train::NamedArray> &arrays,
                  const std::map<std::string, std::string> &metadata) {
    rt::Status s = rt::train::writeSafetensors(tmp, arrays, metadata);
    if (!s.isOk()) {
      std::fprintf(stderr, "%s\n", s.message().c_str());
      std::exit(1);
    }
    write("safetensors", name, readFile(tmp));
    std::remove(tmp.c_str());
  };
  make("weights.safetensors", {{"w", {2, 3}, w}, {"b", {3}, b}},
       {{"producer", "locus"}, {"model", "fuzz"}});
  make("state.safetensors",
       {{"w", {2, 3}, w}, {"optimizer.m.w", {6}, nullptr, m}, {"b", {3}, b}},
       {{"producer", "locus"}, {"format", "locus-training-state-1"}, {"step", "12"}});
}

ByteVec idx(const std::vector<uint32_t> &dims) {
  ByteVec bytes = {0, 0, 8, static_cast<uint8_t>(dims.size())};
  size_t count = 1;
  for (uint32_t d : dims) {
    for (int s = 24; s >= 0; s -= 8)
      bytes.push_back(static_cast<uint8_t>(d >> s));
    count *= d;
  }
  for (size_t i = 0; i < count; ++i)
    bytes.push_back(static_cast<uint8_t>(i * 37));
  return bytes;
}

void idxFiles() {
  write("idx", "images-idx3", idx({3, 4, 4}));
  write("idx", "labels-idx1", idx({3}));
  std::string tmp = corpus + "/.tmp.gz";
  gzFile gz = gzopen(tmp.c_str(), "wb9");
  ByteVec plain = idx({2, 5, 5});
  gzwrite(gz, plain.data(), static_cast<unsigned>(plain.size()));
  gzclose(gz);
  write("idx", "images-idx3.gz", readFile(tmp));
  std::remove(tmp.c_str());
}

void cifar() {
  for (int hundred = 0; hundred < 2; ++hundred) {
    ByteVec bytes = {static_cast<uint8_t>(hundred)}; // the target's layout byte
    for (int record = 0; record < 2; ++record) {
      if (hundred)
        bytes.push_back(static_cast<uint8_t>(3 + record)); // coarse
      bytes.push_back(static_cast<uint8_t>(7 + record));
      for (int i = 0; i < 3 * 32 * 32; ++i)
        bytes.push_back(static_cast<uint8_t>(i * 13 + record));
    }
    write("cifar", hundred ? "cifar100.bin" : "cifar10.bin", bytes);
  }
}

void stl10() {
  const uint32_t image = 3 * 96 * 96;
  ByteVec bytes = {static_cast<uint8_t>(image), static_cast<uint8_t>(image >> 8),
                 static_cast<uint8_t>(image >> 16), static_cast<uint8_t>(image >> 24)};
  for (uint32_t i = 0; i < image; ++i)
    bytes.push_back(static_cast<uint8_t>(i * 7));
  bytes.push_back(10); // its label, 1-10
  write("stl10", "one-image.bin", bytes);
}

ByteVec png(int width, int height, png_uint_32 format) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  image.width = width;
  image.height = height;
  image.format = format;
  ByteVec pixels(PNG_IMAGE_SIZE(image));
  for (size_t i = 0; i < pixels.size(); ++i)
    pixels[i] = static_cast<uint8_t>(i * 29);
  png_alloc_size_t size = 0;
  png_image_write_to_memory(&image, nullptr, &size, 0, pixels.data(), 0, nullptr);
  ByteVec out(size);
  if (!png_image_write_to_memory(&image, out.data(), &size, 0, pixels.data(), 0, nullptr)) {
    std::fprintf(stderr, "png: %s\n", image.message);
    std::exit(1);
  }
  out.resize(size);
  return out;
}

ByteVec jpeg(int width, int height, bool grey, bool progressive) {
  jpeg_compress_struct info;
  jpeg_error_mgr error;
  info.err = jpeg_std_error(&error);
  jpeg_create_compress(&info);
  unsigned char *buffer = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&info, &buffer, &size);
  info.image_width = width;
  info.image_height = height;
  info.input_components = grey ? 1 : 3;
  info.in_color_space = grey ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&info);
  jpeg_set_quality(&info, 75, TRUE);
  if (progressive)
    jpeg_simple_progression(&info);
  jpeg_start_compress(&info, TRUE);
  ByteVec row(static_cast<size_t>(width) * info.input_components);
  while (info.next_scanline < info.image_height) {
    for (size_t i = 0; i < row.size(); ++i)
      row[i] = static_cast<uint8_t>(i * 31 + info.next_scanline * 17);
    JSAMPROW p = row.data();
    jpeg_write_scanlines(&info, &p, 1);
  }
  jpeg_finish_compress(&info);
  jpeg_destroy_compress(&info);
  ByteVec out(buffer, buffer + size);
  std::free(buffer);
  return out;
}

void images() {
  auto put = [](const std::string &name, uint8_t channels, const ByteVec &file) {
    ByteVec bytes = {channels}; // the target's channel byte: odd 3, even 1
    bytes.insert(bytes.end(), file.begin(), file.end());
    write("image", name, bytes);
  };
  put("rgb.png", 3, png(3, 2, PNG_FORMAT_RGB));
  put("grey.png", 0, png(2, 3, PNG_FORMAT_GRAY));
  put("rgba.png", 1, png(4, 4, PNG_FORMAT_RGBA));
  put("rgb.jpg", 3, jpeg(8, 8, false, false));
  put("grey.jpg", 0, jpeg(5, 3, true, false));
  put("progressive.jpg", 1, jpeg(16, 9, false, true));
}

void descriptor(const std::string &library) {
  void *handle = dlopen(library.c_str(), RTLD_LAZY | RTLD_LOCAL);
  if (!handle) {
    std::fprintf(stderr, "%s\n", dlerror());
    std::exit(1);
  }
  auto *record = static_cast<const abi::ModelRecord *>(dlsym(handle, abi::kModelSymbol));
  if (!record) {
    std::fprintf(stderr, "%s: no %s\n", library.c_str(), abi::kModelSymbol);
    std::exit(1);
  }
  fuzz::Encoder encoder;
  encoder.model(*record);
  std::string name = library.substr(library.find_last_of('/') + 1);
  write("descriptor", name.substr(0, name.find('.')) + ".record", encoder.bytes.data(),
        encoder.bytes.size());
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s CORPUS [MODEL.so...]\n", argv[0]);
    return 2;
  }
  corpus = argv[1];
  safetensors();
  idxFiles();
  cifar();
  stl10();
  images();
  for (int i = 2; i < argc; ++i)
    descriptor(argv[i]);
  return 0;
}
