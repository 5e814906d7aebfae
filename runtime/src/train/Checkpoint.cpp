#include "locus/runtime/train/Checkpoint.h"

#include "locus/runtime/train/AtomicFile.h"

#include "locus/runtime/train/Json.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fmt/format.h>
#include <sys/stat.h>

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

namespace {

/// Python's `safetensors` refuses headers over 100,000,000 bytes (MAX_HEADER_SIZE); so do we,
/// before allocating or reading any of it.
constexpr uint64_t kMaxHeaderBytes = 100000000;
/// Shapes, offsets and byte counts beyond this are not a file anyone wrote (and would overflow
/// the checks below); JSON numbers are exact integers up to 2^53.
constexpr double kMaxJsonInteger = 9007199254740992.0; // 2^53

/// Bytes per element of the safetensors dtypes; 0 for a name that is not one.
int64_t dtypeWidth(const std::string &dtype) {
  if (dtype == "F64" || dtype == "I64" || dtype == "U64")
    return 8;
  if (dtype == "F32" || dtype == "I32" || dtype == "U32")
    return 4;
  if (dtype == "F16" || dtype == "BF16" || dtype == "I16" || dtype == "U16")
    return 2;
  if (dtype == "I8" || dtype == "U8" || dtype == "BOOL" || dtype == "F8_E4M3" ||
      dtype == "F8_E5M2")
    return 1;
  return 0;
}

/// Appends up to `count` bytes (fewer at the end of the file); false on a read error.
template <typename Bytes> bool readBytes(FILE *file, size_t count, Bytes &out) {
  char buffer[1 << 16];
  for (size_t left = count; left > 0;) {
    size_t got = std::fread(buffer, 1, std::min(sizeof buffer, left), file);
    if (got == 0)
      break;
    out.insert(out.end(), buffer, buffer + got);
    left -= got;
  }
  return !std::ferror(file);
}

} // namespace

Status readSafetensors(const std::string &path, SafetensorsFile &out) {
  out = SafetensorsFile{};
  FILE *file = std::fopen(path.c_str(), "rb");
  if (!file)
    return Status::error(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  struct Closer {
    FILE *f;
    ~Closer() { std::fclose(f); }
  } closer{file};
  auto readError = [&] { return Status::error(fmt::format("{}: read error", path)); };

  // The header length, checked before any of the header is read: a file cannot make us
  // allocate more than it holds, nor more than kMaxHeaderBytes.
  std::string prefix;
  if (!readBytes(file, 8, prefix))
    return readError();
  if (prefix.size() < 8)
    return Status::error(fmt::format("{}: not a safetensors file ({} bytes)", path, prefix.size()));
  uint64_t headerSize = 0;
  for (int b = 0; b < 8; ++b)
    headerSize |= uint64_t(static_cast<uint8_t>(prefix[b])) << (8 * b);
  if (headerSize > kMaxHeaderBytes)
    return Status::error(fmt::format("{}: not a safetensors file (header length {} exceeds the "
                                     "limit of {} bytes)",
                                     path, headerSize, kMaxHeaderBytes));
  struct stat st;
  const bool regular = ::fstat(::fileno(file), &st) == 0 && S_ISREG(st.st_mode) &&
                       st.st_size >= 8;
  if (regular && headerSize > static_cast<uint64_t>(st.st_size) - 8)
    return Status::error(fmt::format(
        "{}: not a safetensors file (header length {} exceeds the file's {} bytes)", path,
        headerSize, static_cast<uint64_t>(st.st_size)));
  std::string headerText;
  if (!readBytes(file, static_cast<size_t>(headerSize), headerText))
    return readError();
  if (headerText.size() < headerSize) // not a regular file, or one that shrank
    return Status::error(fmt::format(
        "{}: not a safetensors file (header length {} exceeds the file's {} bytes)", path,
        headerSize, 8 + headerText.size()));
  JsonValue header;
  Status parsed = parseJson(headerText, header);
  if (!parsed.isOk())
    return Status::error(fmt::format("{}: bad safetensors header: {}", path, parsed.message()));
  if (header.kind != JsonValue::Kind::Object)
    return Status::error(fmt::format("{}: the safetensors header is not a JSON object", path));

  // The data: what the file holds after the header.
  if (regular)
    out.data.reserve(static_cast<size_t>(static_cast<uint64_t>(st.st_size) - 8 - headerSize));
  if (!readBytes(file, SIZE_MAX, out.data))
    return readError();
  const uint64_t dataSize = out.data.size();

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
    if (out.entries.count(name))
      return bad("appears twice in the header");
    const JsonValue *dtype = v.find("dtype"), *shape = v.find("shape"),
                    *offsets = v.find("data_offsets");
    if (!dtype || dtype->kind != JsonValue::Kind::String || !shape ||
        shape->kind != JsonValue::Kind::Array || !offsets ||
        offsets->kind != JsonValue::Kind::Array || offsets->items.size() != 2)
      return bad("needs dtype, shape and data_offsets [begin, end]");
    auto integer = [](const JsonValue &n) {
      return n.kind == JsonValue::Kind::Number && n.number >= 0 && n.number <= kMaxJsonInteger &&
             n.number == std::floor(n.number);
    };
    SafetensorsEntry e;
    e.dtype = dtype->text;
    const int64_t width = dtypeWidth(e.dtype);
    if (!width)
      return bad(fmt::format("dtype '{}' is not a safetensors dtype", e.dtype));
    // The byte count the shape needs, refused before it could overflow.
    uint64_t needed = static_cast<uint64_t>(width);
    bool tooBig = false;
    for (const JsonValue &d : shape->items) {
      if (!integer(d))
        return bad("shape entries must be non-negative integers");
      e.shape.push_back(static_cast<int64_t>(d.number));
      uint64_t dim = static_cast<uint64_t>(d.number);
      if (dim && needed > (uint64_t(1) << 62) / dim)
        tooBig = true;
      else
        needed *= dim;
    }
    for (const JsonValue &o : offsets->items)
      if (!integer(o))
        return bad("data_offsets must be non-negative integers");
    e.begin = static_cast<uint64_t>(offsets->items[0].number);
    e.end = static_cast<uint64_t>(offsets->items[1].number);
    if (e.end < e.begin || e.end > dataSize)
      return bad(fmt::format("data_offsets [{}, {}] fall outside the {} data bytes", e.begin,
                             e.end, dataSize));
    if (tooBig || e.end - e.begin != needed)
      return bad(fmt::format("shape {} of {} needs {} bytes, data_offsets give {}",
                             shapeText(e.shape), e.dtype,
                             tooBig ? std::string("more than 2^62") : std::to_string(needed),
                             e.end - e.begin));
    out.names.push_back(name);
    out.entries[name] = e;
  }
  // No two tensors may share bytes (safetensors writes them one after another).
  std::vector<const std::string *> order;
  for (const std::string &name : out.names)
    if (out.entries[name].end > out.entries[name].begin)
      order.push_back(&name);
  std::sort(order.begin(), order.end(), [&](const std::string *a, const std::string *b) {
    return out.entries[*a].begin < out.entries[*b].begin;
  });
  for (size_t i = 1; i < order.size(); ++i) {
    const SafetensorsEntry &prev = out.entries[*order[i - 1]], &next = out.entries[*order[i]];
    if (next.begin < prev.end)
      return Status::error(fmt::format(
          "{}: tensors '{}' (data_offsets [{}, {}]) and '{}' (data_offsets [{}, {}]) overlap",
          path, *order[i - 1], prev.begin, prev.end, *order[i], next.begin, next.end));
  }
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
