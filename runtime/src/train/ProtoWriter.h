//===- ProtoWriter.h - protocol buffer wire format, written by hand -*- C++ -*-===//
//
// The two encodings an ONNX ModelProto needs (OnnxExport.cpp), so that every
// training binary can export without linking libprotobuf: varints (wire type
// 0) and length-delimited bytes, strings and embedded messages (wire type 2;
// float data goes into a tensor's raw_data bytes). A message is built
// bottom-up: fill a ProtoWriter for the embedded message, then add it to its
// parent with message(). Repeated scalars are written unpacked, one tagged
// value each, which is what proto2 (onnx.proto) declares for `repeated int64`
// without [packed = true]; parsers accept either form.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_TRAIN_PROTOWRITER_H
#define LOCUS_RUNTIME_TRAIN_PROTOWRITER_H

#include <cstdint>
#include <string>
#include <string_view>

namespace locus::rt::train {

class ProtoWriter {
public:
  enum WireType : uint32_t { Varint = 0, LengthDelimited = 2 };

  /// An int32, int64 or enum field (negative values take ten bytes, as
  /// protobuf encodes them).
  ProtoWriter &integer(uint32_t field, int64_t value) {
    tag(field, Varint);
    varint(static_cast<uint64_t>(value));
    return *this;
  }
  /// A `string` or `bytes` field.
  ProtoWriter &bytes(uint32_t field, std::string_view value) {
    tag(field, LengthDelimited);
    varint(value.size());
    bytes_.append(value.data(), value.size());
    return *this;
  }
  /// An embedded message field.
  ProtoWriter &message(uint32_t field, const ProtoWriter &value) {
    return bytes(field, value.bytes_);
  }

  const std::string &str() const { return bytes_; }
  size_t size() const { return bytes_.size(); }

private:
  void tag(uint32_t field, WireType type) { varint((uint64_t(field) << 3) | type); }
  void varint(uint64_t v) {
    while (v >= 0x80) {
      bytes_.push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    bytes_.push_back(static_cast<char>(v));
  }

  std::string bytes_;
};

} // namespace locus::rt::train

#endif
