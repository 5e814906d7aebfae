// safetensors checkpoints: round trip, the exact byte layout Python's `safetensors` reads, and
// the errors --init gives for wrong names, shapes and broken files. Also the JSON reader.
#include "locus/runtime/train/Checkpoint.h"
#include "locus/runtime/train/Json.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace {

using namespace locus::rt;
using namespace locus::rt::train;
namespace fs = std::filesystem;

std::string tempPath(const std::string &name) {
  return (fs::temp_directory_path() / ("locus-ckpt-" + std::to_string(::getpid()) + "-" + name))
      .string();
}

ModelDesc twoParams() {
  ModelDesc m;
  m.name = "tiny";
  ParamDesc w, b;
  w.name = "conv1_w";
  w.shape = {2, 1, 3, 3};
  b.name = "block1_B";
  b.shape = {4, 3};
  m.params = {w, b};
  return m;
}

std::vector<Tensor> makeParams(const ModelDesc &m, float base) {
  auto tracker = std::make_shared<MemoryTracker>();
  std::vector<Tensor> params;
  for (const ParamDesc &p : m.params) {
    int64_t n = 1;
    for (int64_t d : p.shape)
      n *= d;
    Tensor t = Tensor::allocate(tracker, Shape4{n, 1, 1, 1});
    for (int64_t i = 0; i < n; ++i)
      t.data()[i] = base + 0.25f * i;
    params.push_back(t);
  }
  return params;
}

std::string readAll(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void writeAll(const std::string &path, const std::string &bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

TEST(TrainCheckpoint, RoundTrip) {
  ModelDesc m = twoParams();
  std::vector<Tensor> saved = makeParams(m, 1.0f), loaded = makeParams(m, -7.0f);
  std::string path = tempPath("round.safetensors");
  ASSERT_TRUE(saveCheckpoint(path, m, saved).isOk());
  Status status = loadCheckpoint(path, m, loaded);
  ASSERT_TRUE(status.isOk()) << status.message();
  for (size_t i = 0; i < saved.size(); ++i)
    for (int64_t k = 0; k < saved[i].count(); ++k)
      EXPECT_EQ(saved[i].data()[k], loaded[i].data()[k]);
  EXPECT_FALSE(fs::exists(path + ".tmp." + std::to_string(::getpid()))) << "temporary file left";
  fs::remove(path);
}

TEST(TrainCheckpoint, LayoutIsSafetensors) {
  ModelDesc m = twoParams();
  std::string path = tempPath("layout.safetensors");
  ASSERT_TRUE(saveCheckpoint(path, m, makeParams(m, 0.0f)).isOk());
  std::string bytes = readAll(path);
  fs::remove(path);
  ASSERT_GE(bytes.size(), 8u);
  uint64_t n = 0;
  for (int b = 0; b < 8; ++b)
    n |= uint64_t(static_cast<uint8_t>(bytes[b])) << (8 * b);
  EXPECT_EQ(n % 8, 0u) << "header padded to 8 bytes";
  ASSERT_EQ(bytes.size(), 8 + n + 4 * (18 + 12));
  JsonValue header;
  ASSERT_TRUE(parseJson(bytes.substr(8, n), header).isOk());
  const JsonValue *w = header.find("conv1_w"), *b = header.find("block1_B");
  ASSERT_TRUE(w && b);
  EXPECT_EQ(w->find("dtype")->text, "F32");
  ASSERT_EQ(w->find("shape")->items.size(), 4u);
  EXPECT_EQ(w->find("data_offsets")->items[0].number, 0);
  EXPECT_EQ(w->find("data_offsets")->items[1].number, 72);
  EXPECT_EQ(b->find("data_offsets")->items[0].number, 72);
  EXPECT_EQ(b->find("data_offsets")->items[1].number, 120);
  EXPECT_EQ(header.find("__metadata__")->find("producer")->text, "locus");
  // 0.25f little-endian is 00 00 80 3e: the second value of conv1_w.
  EXPECT_EQ(bytes.substr(8 + n + 4, 4), std::string("\x00\x00\x80\x3e", 4));
}

TEST(TrainCheckpoint, ReadsAFileWrittenLikePython) {
  // What safetensors.numpy.save_file writes: compact JSON, sorted names, space padding.
  std::string header =
      R"({"__metadata__":{"who":"python"},"block1_B":{"dtype":"F32","shape":[4,3],"data_offsets":[0,48]},"conv1_w":{"dtype":"F32","shape":[2,1,3,3],"data_offsets":[48,120]}})";
  header.append((8 - header.size() % 8) % 8, ' ');
  std::string bytes(8, '\0');
  for (int b = 0; b < 8; ++b)
    bytes[b] = static_cast<char>((header.size() >> (8 * b)) & 0xff);
  bytes += header;
  for (int i = 0; i < 30; ++i) {
    float v = i < 12 ? 100.0f + i : float(i - 12);
    bytes.append(reinterpret_cast<const char *>(&v), 4); // the test host is little-endian
  }
  std::string path = tempPath("python.safetensors");
  writeAll(path, bytes);
  ModelDesc m = twoParams();
  std::vector<Tensor> params = makeParams(m, 0.0f);
  Status status = loadCheckpoint(path, m, params);
  fs::remove(path);
  ASSERT_TRUE(status.isOk()) << status.message();
  EXPECT_EQ(params[0].data()[0], 0.0f);
  EXPECT_EQ(params[0].data()[17], 17.0f);
  EXPECT_EQ(params[1].data()[11], 111.0f);
}

TEST(TrainCheckpoint, InitErrorsAreSpecific) {
  ModelDesc m = twoParams();
  std::string path = tempPath("errors.safetensors");
  std::vector<Tensor> params = makeParams(m, 0.0f);
  auto expectError = [&](const ModelDesc &model, const std::string &text) {
    std::vector<Tensor> target = makeParams(model, 5.0f);
    Status status = loadCheckpoint(path, model, target);
    ASSERT_FALSE(status.isOk()) << text;
    EXPECT_NE(status.message().find(text), std::string::npos) << status.message();
    EXPECT_EQ(target[0].data()[0], 5.0f) << "a failed load must not change the parameters";
  };
  ASSERT_TRUE(saveCheckpoint(path, m, params).isOk());

  ModelDesc renamed = m;
  renamed.params[1].name = "block1_B_lat";
  expectError(renamed, "tensor 'block1_B' is not a parameter of model 'tiny'");
  ModelDesc bigger = m;
  bigger.params.push_back(bigger.params[1]);
  bigger.params[2].name = "block2_B";
  expectError(bigger, "missing parameter 'block2_B'");
  ModelDesc reshaped = m;
  reshaped.params[1].shape = {3, 4};
  expectError(reshaped, "tensor 'block1_B' has shape [4, 3], the model's parameter has [3, 4]");

  writeAll(path, std::string("\xff\xff\xff\xff\xff\xff\xff\x00{}", 10));
  expectError(m, "header length");
  writeAll(path, std::string("\x02\0\0\0\0\0\0\0{", 9) + "x");
  expectError(m, "bad safetensors header");
  fs::remove(path);
  std::vector<Tensor> target = makeParams(m, 0.0f);
  Status missing = loadCheckpoint(path, m, target);
  ASSERT_FALSE(missing.isOk());
  EXPECT_NE(missing.message().find("cannot open"), std::string::npos);
}

/// A safetensors file: the 8-byte length of `header`, `header`, then `dataBytes` zero bytes.
std::string safetensorsBytes(const std::string &header, size_t dataBytes) {
  std::string bytes(8, '\0');
  for (int b = 0; b < 8; ++b)
    bytes[b] = static_cast<char>((uint64_t(header.size()) >> (8 * b)) & 0xff);
  return bytes + header + std::string(dataBytes, '\0');
}

// Hostile files for --init and --resume (issue 14): a header that lies about sizes or offsets,
// overlapping tensors, wrong dtypes, overflowing shapes. Each is refused naming the file, the
// tensor and the field; nothing is read outside the data (the sanitizer build checks that).
TEST(TrainCheckpoint, HostileHeadersAreRefusedNamingTheField) {
  std::string path = tempPath("hostile.safetensors");
  struct Case {
    std::string header;
    size_t dataBytes;
    std::string expect;
  } cases[] = {
      // Offsets past the data, reversed, or not integers.
      {R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8,
       "tensor 'w': data_offsets [0, 16] fall outside the 8 data bytes"},
      {R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", 8,
       "tensor 'w': data_offsets [8, 0] fall outside the 8 data bytes"},
      {R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,1e300]}})", 8,
       "tensor 'w': data_offsets must be non-negative integers"},
      {R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}})", 8,
       "tensor 'w': data_offsets must be non-negative integers"},
      {R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", 8,
       "tensor 'w': needs dtype, shape and data_offsets [begin, end]"},
      // A shape that needs more (or fewer) bytes than the offsets give.
      {R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8,
       "tensor 'w': shape [3] of F32 needs 12 bytes, data_offsets give 8"},
      {R"({"w":{"dtype":"BF16","shape":[2,2],"data_offsets":[0,4]}})", 8,
       "tensor 'w': shape [2, 2] of BF16 needs 8 bytes, data_offsets give 4"},
      // Shapes whose byte count overflows 64 bits, and a dimension past 2^53.
      {R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", 8,
       "needs more than 2^62 bytes, data_offsets give 8"},
      {R"({"w":{"dtype":"F32","shape":[0,1e19],"data_offsets":[0,0]}})", 8,
       "tensor 'w': shape entries must be non-negative integers"},
      {R"({"w":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}})", 8,
       "tensor 'w': shape entries must be non-negative integers"},
      // Two tensors sharing bytes, and a name given twice.
      {R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
       12, "tensors 'a' (data_offsets [0, 8]) and 'b' (data_offsets [4, 12]) overlap"},
      {R"({"b":{"dtype":"F32","shape":[3],"data_offsets":[4,16]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"c":{"dtype":"U8","shape":[8],"data_offsets":[8,16]}})",
       16, "tensors 'b' (data_offsets [4, 16]) and 'c' (data_offsets [8, 16]) overlap"},
      {R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
       8, "tensor 'a': appears twice in the header"},
      // dtypes: not a safetensors dtype, not a string.
      {R"({"w":{"dtype":"F31","shape":[2],"data_offsets":[0,8]}})", 8,
       "tensor 'w': dtype 'F31' is not a safetensors dtype"},
      {R"({"w":{"dtype":4,"shape":[2],"data_offsets":[0,8]}})", 8,
       "tensor 'w': needs dtype, shape and data_offsets [begin, end]"},
      // A header that is not an object.
      {R"([1,2])", 0, "the safetensors header is not a JSON object"},
  };
  for (const Case &c : cases) {
    writeAll(path, safetensorsBytes(c.header, c.dataBytes));
    SafetensorsFile file;
    Status status = readSafetensors(path, file);
    ASSERT_FALSE(status.isOk()) << c.header;
    EXPECT_NE(status.message().find(path + ": "), std::string::npos) << status.message();
    EXPECT_NE(status.message().find(c.expect), std::string::npos) << status.message();
  }

  // Zero-sized tensors may share an offset; tensors may touch.
  writeAll(path, safetensorsBytes(
                     R"({"e":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"I8","shape":[4],"data_offsets":[4,8]}})",
                     8));
  SafetensorsFile ok;
  Status status = readSafetensors(path, ok);
  EXPECT_TRUE(status.isOk()) << status.message();
  EXPECT_EQ(ok.names, (std::vector<std::string>{"e", "a", "b"}));

  // A known dtype the model cannot take: --init names the tensor and both dtypes.
  ModelDesc m = twoParams();
  std::string header =
      R"({"block1_B":{"dtype":"F64","shape":[4,3],"data_offsets":[0,96]},"conv1_w":{"dtype":"F32","shape":[2,1,3,3],"data_offsets":[96,168]}})";
  writeAll(path, safetensorsBytes(header, 168));
  std::vector<Tensor> params = makeParams(m, 5.0f);
  status = loadCheckpoint(path, m, params);
  ASSERT_FALSE(status.isOk());
  EXPECT_NE(status.message().find(path + ": tensor 'block1_B' has dtype F64, expected F32"),
            std::string::npos)
      << status.message();
  EXPECT_EQ(params[1].data()[0], 5.0f) << "a failed load must not change the parameters";
  fs::remove(path);
}

// A header of 100 MiB is refused from its 8-byte length, before any of it is read or allocated
// (Python's safetensors allows at most 100,000,000 bytes). The file really is that long: sparse.
TEST(TrainCheckpoint, AHundredMegabyteHeaderIsRefusedUnread) {
  std::string path = tempPath("huge-header.safetensors");
  const uint64_t headerSize = uint64_t(100) << 20;
  std::string prefix(8, '\0');
  for (int b = 0; b < 8; ++b)
    prefix[b] = static_cast<char>((headerSize >> (8 * b)) & 0xff);
  writeAll(path, prefix + "{\"w\":");
  fs::resize_file(path, 8 + headerSize);
  SafetensorsFile file;
  Status status = readSafetensors(path, file);
  fs::remove(path);
  ASSERT_FALSE(status.isOk());
  EXPECT_NE(status.message().find(path + ": not a safetensors file (header length 104857600 "
                                         "exceeds the limit of 100000000 bytes)"),
            std::string::npos)
      << status.message();
}

TEST(TrainJson, ParsesAndWrites) {
  JsonValue v;
  ASSERT_TRUE(parseJson(R"( {"a": [1, -2.5e3, true, null], "b": "x\"\u00e9\n", "c": {}} )", v).isOk());
  EXPECT_EQ(v.find("a")->items[1].number, -2500);
  EXPECT_TRUE(v.find("a")->items[2].boolean);
  EXPECT_EQ(v.find("a")->items[3].kind, JsonValue::Kind::Null);
  EXPECT_EQ(v.find("b")->text, "x\"\xc3\xa9\n");
  EXPECT_FALSE(parseJson("{\"a\": 1,}", v).isOk());
  EXPECT_FALSE(parseJson("[1] x", v).isOk());
  EXPECT_FALSE(parseJson("\"open", v).isOk());

  std::string line = JsonWriter()
                         .add("type", "step")
                         .add("loss", std::vector<double>{0.5, std::nan("")})
                         .add("n", 3)
                         .add("ok", true)
                         .str();
  EXPECT_EQ(line, R"({"type":"step","loss":[0.5,null],"n":3,"ok":true})");
  ASSERT_TRUE(parseJson(line, v).isOk());
}

} // namespace
