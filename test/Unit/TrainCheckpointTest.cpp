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
