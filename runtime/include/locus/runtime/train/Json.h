//===- Json.h - the little JSON the training binary needs -------*- C++ -*-===//
//
// Metrics are JSON lines and a safetensors header is a JSON object; neither
// justifies a dependency. JsonWriter builds one object; parseJson reads the
// subset RFC 8259 defines (no comments), enough for any safetensors header.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_TRAIN_JSON_H
#define LOCUS_RUNTIME_TRAIN_JSON_H

#include "locus/runtime/Error.h"

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace locus::rt::train {

/// Appends `"key": value` pairs to one JSON object. Non-finite numbers are
/// written as null (JSON has no NaN).
class JsonWriter {
public:
  JsonWriter &add(std::string_view key, std::string_view value);
  JsonWriter &add(std::string_view key, const char *value) { return add(key, std::string_view(value)); }
  JsonWriter &add(std::string_view key, double value);
  JsonWriter &add(std::string_view key, int64_t value);
  JsonWriter &add(std::string_view key, int value) { return add(key, int64_t(value)); }
  JsonWriter &add(std::string_view key, bool value);
  JsonWriter &add(std::string_view key, const std::vector<double> &values);
  JsonWriter &add(std::string_view key, const std::vector<int64_t> &values);
  JsonWriter &add(std::string_view key, const std::vector<std::string> &values);
  /// A value that is already JSON text.
  JsonWriter &addRaw(std::string_view key, std::string_view json);
  std::string str() const { return "{" + body_ + "}"; }

private:
  void key(std::string_view k);
  std::string body_;
};

std::string jsonQuote(std::string_view text);
std::string jsonNumber(double value);

struct JsonValue {
  enum class Kind { Null, Bool, Number, String, Array, Object } kind = Kind::Null;
  bool boolean = false;
  double number = 0;
  std::string text;
  std::vector<JsonValue> items;
  std::vector<std::pair<std::string, JsonValue>> members; ///< in file order

  const JsonValue *find(std::string_view key) const;
};

/// Parses one JSON value filling all of `text` (trailing spaces allowed).
Status parseJson(std::string_view text, JsonValue &out);

} // namespace locus::rt::train

#endif
