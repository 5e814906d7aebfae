#include "locus/runtime/train/Checkpoint.h"

#include "locus/runtime/train/AtomicFile.h"

#include "locus/runtime/train/Json.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fmt/format.h>

namespace locus::rt::train {

namespace {

std::string shapeText(const std::vector<int64_t> &s) { return fmt::format("[{}]", fmt::join(s, ", ")); }

int64_t elements(const std::vector<int64_t> &shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

/// Little-endian float32 bytes, whatever the host order.
void appendFloats(std::string &out, const float *data, int64_t count) {
  size_t at = out.size();
  out.resize(at + 4 * count);
  for (int64_t i = 0; i < count; ++i) {
    uint32_t bits;
    std::memcpy(&bits, data + i, 4);
    for (int b = 0; b < 4; ++b)
      out[at + 4 * i + b] = static_cast<char>((bits >> (8 * b)) & 0xff);
  }
}

} // namespace

Status writeSafetensors(const std::string &path, const std::vector<NamedArray> &arrays,
                        const std::map<std::string, std::string> &metadata) {
  JsonWriter header;
  if (!metadata.empty()) {
    JsonWriter meta;
    for (const auto &[k, v] : metadata)
      meta.add(k, v);
    header.addRaw("__metadata__", meta.str());
  }
  std::string payload;
  for (const NamedArray &a : arrays) {
    int64_t count = elements(a.shape);
    uint64_t begin = payload.size();
    if (a.bf16) {
      for (int64_t i = 0; i < count; ++i) {
        payload.push_back(static_cast<char>(a.bf16[i] & 0xff));
        payload.push_back(static_cast<char>(a.bf16[i] >> 8));
      }
    } else {
      appendFloats(payload, a.data, count);
    }
    JsonWriter entry;
    entry.add("dtype", a.bf16 ? "BF16" : "F32")
        .add("shape", a.shape)
        .add("data_offsets", std::vector<int64_t>{int64_t(begin), int64_t(payload.size())});
    header.addRaw(a.name, entry.str());
  }
  std::string json = header.str();
  json.append((8 - json.size() % 8) % 8, ' '); // keeps the data 8-byte aligned
  std::string prefix(8, '\0');
  for (int b = 0; b < 8; ++b)
    prefix[b] = static_cast<char>((uint64_t(json.size()) >> (8 * b)) & 0xff);

  return writeFileAtomically(path, {prefix, json, payload});
}

Status readSafetensors(const std::string &path, SafetensorsFile &out) {
  out = SafetensorsFile{};
  FILE *file = std::fopen(path.c_str(), "rb");
  if (!file)
    return Status::error(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  std::string bytes;
  char buffer[1 << 16];
  size_t got;
  while ((got = std::fread(buffer, 1, sizeof buffer, file)) > 0)
    bytes.append(buffer, got);
  bool readError = std::ferror(file);
  std::fclose(file);
  if (readError)
    return Status::error(fmt::format("{}: read error", path));
  if (bytes.size() < 8)
    return Status::error(fmt::format("{}: not a safetensors file ({} bytes)", path, bytes.size()));
  uint64_t headerSize = 0;
  for (int b = 0; b < 8; ++b)
    headerSize |= uint64_t(static_cast<uint8_t>(bytes[b])) << (8 * b);
  if (headerSize > bytes.size() - 8)
    return Status::error(fmt::format(
        "{}: not a safetensors file (header length {} exceeds the file's {} bytes)", path,
        headerSize, bytes.size()));
  JsonValue header;
  Status parsed = parseJson(std::string_view(bytes).substr(8, headerSize), header);
  if (!parsed.isOk())
    return Status::error(fmt::format("{}: bad safetensors header: {}", path, parsed.message()));
  if (header.kind != JsonValue::Kind::Object)
    return Status::error(fmt::format("{}: the safetensors header is not a JSON object", path));
  uint64_t dataSize = bytes.size() - 8 - headerSize;
  for (const auto &[name, v] : header.members) {
    if (name == "__metadata__") {
      for (const auto &[k, m] : v.members)
        if (m.kind == JsonValue::Kind::String)
          out.metadata[k] = m.text;
      continue;
    }
    auto bad = [&](const std::string &what) {
      return Status::error(fmt::format("{}: tensor '{}': {}", path, name, what));
    };
    const JsonValue *dtype = v.find("dtype"), *shape = v.find("shape"),
                    *offsets = v.find("data_offsets");
    if (!dtype || dtype->kind != JsonValue::Kind::String || !shape ||
        shape->kind != JsonValue::Kind::Array || !offsets ||
        offsets->kind != JsonValue::Kind::Array || offsets->items.size() != 2)
      return bad("needs dtype, shape and data_offsets [begin, end]");
    SafetensorsEntry e;
    e.dtype = dtype->text;
    for (const JsonValue &d : shape->items) {
      if (d.kind != JsonValue::Kind::Number || d.number < 0 || d.number != std::floor(d.number))
        return bad("shape entries must be non-negative integers");
      e.shape.push_back(static_cast<int64_t>(d.number));
    }
    for (const JsonValue &o : offsets->items)
      if (o.kind != JsonValue::Kind::Number || o.number < 0 || o.number != std::floor(o.number))
        return bad("data_offsets must be non-negative integers");
    e.begin = static_cast<uint64_t>(offsets->items[0].number);
    e.end = static_cast<uint64_t>(offsets->items[1].number);
    if (e.end < e.begin || e.end > dataSize)
      return bad(fmt::format("data_offsets [{}, {}] fall outside the {} data bytes", e.begin,
                             e.end, dataSize));
    const int64_t width = e.dtype == "F32" ? 4 : e.dtype == "BF16" ? 2 : 0;
    if (width && e.end - e.begin != uint64_t(width * elements(e.shape)))
      return bad(fmt::format("shape {} needs {} bytes of {}, data_offsets give {}",
                             shapeText(e.shape), width * elements(e.shape), e.dtype,
                             e.end - e.begin));
    out.names.push_back(name);
    out.entries[name] = e;
  }
  out.data.assign(bytes.begin() + 8 + static_cast<std::ptrdiff_t>(headerSize), bytes.end());
  return Status::success();
}

Status saveCheckpoint(const std::string &path, const ModelDesc &model,
                      const std::vector<Tensor> &params) {
  std::vector<NamedArray> arrays;
  for (size_t i = 0; i < model.params.size(); ++i)
    arrays.push_back({model.params[i].name, model.params[i].shape, params[i].data()});
  return writeSafetensors(path, arrays, {{"producer", "locus"}, {"model", model.name}});
}

Status loadCheckpoint(const std::string &path, const ModelDesc &model, std::vector<Tensor> &params) {
  SafetensorsFile file;
  LOCUS_RETURN_IF_ERROR(readSafetensors(path, file));
  std::map<std::string, bool> known;
  for (const ParamDesc &p : model.params)
    known[p.name] = true;
  for (const std::string &name : file.names)
    if (!known.count(name))
      return Status::error(fmt::format("{}: tensor '{}' is not a parameter of model '{}'", path,
                                       name, model.name));
  // Check everything before touching any parameter: a failed --init leaves
  // the model as it was.
  for (const ParamDesc &p : model.params) {
    auto it = file.entries.find(p.name);
    if (it == file.entries.end())
      return Status::error(fmt::format("{}: missing parameter '{}' of model '{}'", path, p.name,
                                       model.name));
    if (it->second.dtype != "F32")
      return Status::error(fmt::format("{}: tensor '{}' has dtype {}, expected F32", path, p.name,
                                       it->second.dtype));
    if (it->second.shape != p.shape)
      return Status::error(fmt::format("{}: tensor '{}' has shape {}, the model's parameter has {}",
                                       path, p.name, shapeText(it->second.shape),
                                       shapeText(p.shape)));
  }
  for (size_t i = 0; i < model.params.size(); ++i) {
    const SafetensorsEntry &e = file.entries[model.params[i].name];
    const uint8_t *src = file.data.data() + e.begin;
    float *dst = params[i].data();
    for (int64_t k = 0; k < elements(e.shape); ++k) {
      uint32_t bits = uint32_t(src[4 * k]) | (uint32_t(src[4 * k + 1]) << 8) |
                      (uint32_t(src[4 * k + 2]) << 16) | (uint32_t(src[4 * k + 3]) << 24);
      std::memcpy(dst + k, &bits, 4);
    }
  }
  return Status::success();
}

} // namespace locus::rt::train
