//===- ImageDecode.cpp - JPEG and PNG files to uint8 planes ---------------===//
#include "locus/runtime/train/ImageDecode.h"

#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <cerrno>
#include <fmt/format.h>
#include <jpeglib.h>
#include <jerror.h> // after jpeglib.h: the message codes
#include <png.h>

namespace locus::rt::train {

namespace {

/// Interleaved [H, W, 3] (or [H, W, 4] with alpha dropped) to planes,
/// reduced to luma for one channel (PIL's convert("L") weights).
void toPlanes(const uint8_t *hwc, int64_t stride, int64_t height, int64_t width, int64_t channels,
              std::vector<uint8_t> &pixels) {
  const int64_t plane = height * width;
  pixels.resize(static_cast<size_t>(channels * plane));
  uint8_t *out = pixels.data();
  if (channels == 3) {
    for (int64_t k = 0; k < plane; ++k, hwc += stride) {
      out[k] = hwc[0];
      out[plane + k] = hwc[1];
      out[2 * plane + k] = hwc[2];
    }
    return;
  }
  for (int64_t k = 0; k < plane; ++k, hwc += stride)
    out[k] = static_cast<uint8_t>((hwc[0] * 299 + hwc[1] * 587 + hwc[2] * 114 + 500) / 1000);
}

Status checkSize(const std::string &path, int64_t height, int64_t width, int64_t maxPixels) {
  if (height <= 0 || width <= 0 || height * width > maxPixels)
    return Status::error(fmt::format("{}: the image is {}x{} pixels (at most {} are decoded)",
                                     path, width, height, maxPixels));
  return Status::success();
}

struct JpegError {
  jpeg_error_mgr manager;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  void (*emitMessage)(j_common_ptr, int); ///< libjpeg's
};

void jpegErrorExit(j_common_ptr info) {
  auto *error = reinterpret_cast<JpegError *>(info->err);
  (*info->err->format_message)(info, error->message);
  std::longjmp(error->jump, 1);
}

/// libjpeg only warns when the image data ends before the image does, and
/// decodes the rest as grey: a file of 150 bytes declaring 32261x1539
/// pixels then took seconds (test/Fuzz). Truncated data is an error here
/// (as PIL's "image file is truncated"); other warnings stay warnings.
void jpegEmitMessage(j_common_ptr info, int level) {
  const int code = info->err->msg_code;
  if (level < 0 && (code == JWRN_JPEG_EOF || code == JWRN_HIT_MARKER))
    jpegErrorExit(info);
  reinterpret_cast<JpegError *>(info->err)->emitMessage(info, level);
}

/// No C++ object with a destructor lives between setjmp and longjmp here:
/// the rows go to a buffer the caller owns.
bool decodeJpegRaw(const uint8_t *bytes, size_t size, bool grey, int64_t maxPixels,
                   std::vector<uint8_t> &rows, int64_t &height, int64_t &width, char *message) {
  jpeg_decompress_struct info;
  JpegError error;
  info.err = jpeg_std_error(&error.manager);
  error.manager.error_exit = jpegErrorExit;
  error.emitMessage = error.manager.emit_message;
  error.manager.emit_message = jpegEmitMessage;
  error.message[0] = '\0';
  if (setjmp(error.jump)) {
    std::memcpy(message, error.message, sizeof(error.message));
    jpeg_destroy_decompress(&info);
    return false;
  }
  jpeg_create_decompress(&info);
  jpeg_mem_src(&info, bytes, static_cast<unsigned long>(size));
  jpeg_read_header(&info, TRUE);
  if (info.jpeg_color_space == JCS_CMYK || info.jpeg_color_space == JCS_YCCK) {
    std::snprintf(message, JMSG_LENGTH_MAX, "CMYK JPEG images are not supported");
    jpeg_destroy_decompress(&info);
    return false;
  }
  info.out_color_space = grey ? JCS_GRAYSCALE : JCS_RGB;
  height = info.image_height;
  width = info.image_width;
  if (int64_t(height) * int64_t(width) > maxPixels || height == 0 || width == 0) {
    std::snprintf(message, JMSG_LENGTH_MAX, "the image is %lldx%lld pixels (at most %lld)",
                  static_cast<long long>(width), static_cast<long long>(height),
                  static_cast<long long>(maxPixels));
    jpeg_destroy_decompress(&info);
    return false;
  }
  jpeg_start_decompress(&info);
  const size_t stride = size_t(info.output_width) * size_t(info.output_components);
  rows.resize(stride * info.output_height);
  while (info.output_scanline < info.output_height) {
    JSAMPROW row = rows.data() + stride * info.output_scanline;
    jpeg_read_scanlines(&info, &row, 1);
  }
  jpeg_finish_decompress(&info);
  jpeg_destroy_decompress(&info);
  return true;
}

Status decodeJpeg(const uint8_t *bytes, size_t size, const std::string &path, int64_t channels,
                  std::vector<uint8_t> &pixels, int64_t &height, int64_t &width,
                  int64_t maxPixels) {
  thread_local std::vector<uint8_t> rows;
  char message[JMSG_LENGTH_MAX] = {0};
  if (!decodeJpegRaw(bytes, size, channels == 1, maxPixels, rows, height, width, message))
    return Status::error(fmt::format("{}: not a readable JPEG image: {}", path, message));
  if (channels == 1) {
    pixels.assign(rows.begin(), rows.end());
    return Status::success();
  }
  toPlanes(rows.data(), 3, height, width, 3, pixels);
  return Status::success();
}

Status decodePng(const uint8_t *bytes, size_t size, const std::string &path, int64_t channels,
                 std::vector<uint8_t> &pixels, int64_t &height, int64_t &width,
                 int64_t maxPixels) {
  png_image image;
  std::memset(&image, 0, sizeof(image));
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&image, bytes, size))
    return Status::error(fmt::format("{}: not a readable PNG image: {}", path, image.message));
  height = image.height;
  width = image.width;
  if (Status s = checkSize(path, height, width, maxPixels); !s.isOk()) {
    png_image_free(&image);
    return s;
  }
  // Read as 8-bit RGBA and drop the alpha, as PIL's convert("RGB") does.
  image.format = PNG_FORMAT_RGBA;
  thread_local std::vector<uint8_t> rows;
  rows.resize(PNG_IMAGE_SIZE(image));
  if (!png_image_finish_read(&image, nullptr, rows.data(), 0, nullptr))
    return Status::error(fmt::format("{}: not a readable PNG image: {}", path, image.message));
  toPlanes(rows.data(), 4, height, width, channels, pixels);
  return Status::success();
}

} // namespace

Status decodeImage(const uint8_t *bytes, size_t size, const std::string &path, int64_t channels,
                   std::vector<uint8_t> &pixels, int64_t &height, int64_t &width,
                   int64_t maxPixels) {
  static const uint8_t kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (channels != 1 && channels != 3)
    return Status::error(fmt::format("{}: images are decoded to 1 or 3 channels, not {}", path,
                                     channels));
  if (size >= 8 && std::memcmp(bytes, kPng, 8) == 0)
    return decodePng(bytes, size, path, channels, pixels, height, width, maxPixels);
  if (size >= 3 && bytes[0] == 0xff && bytes[1] == 0xd8 && bytes[2] == 0xff)
    return decodeJpeg(bytes, size, path, channels, pixels, height, width, maxPixels);
  return Status::error(fmt::format("{}: neither a JPEG nor a PNG image ({} bytes)", path, size));
}

Status decodeImageFile(const std::string &path, int64_t channels, std::vector<uint8_t> &scratch,
                       ImageRef &out) {
  thread_local std::vector<uint8_t> bytes;
  FILE *file = std::fopen(path.c_str(), "rb");
  if (!file)
    return Status::error(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  bytes.clear();
  uint8_t chunk[1 << 16];
  size_t got;
  while ((got = std::fread(chunk, 1, sizeof(chunk), file)) > 0)
    bytes.insert(bytes.end(), chunk, chunk + got);
  const bool failed = std::ferror(file);
  std::fclose(file);
  if (failed)
    return Status::error(fmt::format("{}: read error", path));
  int64_t height = 0, width = 0;
  LOCUS_RETURN_IF_ERROR(
      decodeImage(bytes.data(), bytes.size(), path, channels, scratch, height, width));
  out = ImageRef{scratch.data(), channels, height, width};
  return Status::success();
}

} // namespace locus::rt::train
