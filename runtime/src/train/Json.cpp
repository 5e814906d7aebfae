#include "locus/runtime/train/Json.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <fmt/format.h>

namespace locus::rt::train {

std::string jsonQuote(std::string_view text) {
  std::string out = "\"";
  for (char ch : text) {
    unsigned char c = static_cast<unsigned char>(ch);
    switch (c) {
    case '"':
      out += "\\\"";
      break;
    case '\\':
      out += "\\\\";
      break;
    case '\n':
      out += "\\n";
      break;
    case '\t':
      out += "\\t";
      break;
    case '\r':
      out += "\\r";
      break;
    default:
      if (c < 0x20)
        out += fmt::format("\\u{:04x}", c);
      else
        out += ch;
    }
  }
  return out + "\"";
}

std::string jsonNumber(double value) {
  if (!std::isfinite(value))
    return "null";
  return fmt::format("{}", value); // shortest text that reads back exactly
}

void JsonWriter::key(std::string_view k) {
  if (!body_.empty())
    body_ += ",";
  body_ += jsonQuote(k) + ":";
}

JsonWriter &JsonWriter::add(std::string_view k, std::string_view value) {
  key(k);
  body_ += jsonQuote(value);
  return *this;
}
JsonWriter &JsonWriter::add(std::string_view k, double value) {
  key(k);
  body_ += jsonNumber(value);
  return *this;
}
JsonWriter &JsonWriter::add(std::string_view k, int64_t value) {
  key(k);
  body_ += std::to_string(value);
  return *this;
}
JsonWriter &JsonWriter::add(std::string_view k, bool value) {
  key(k);
  body_ += value ? "true" : "false";
  return *this;
}
JsonWriter &JsonWriter::add(std::string_view k, const std::vector<double> &values) {
  key(k);
  body_ += "[";
  for (size_t i = 0; i < values.size(); ++i)
    body_ += (i ? "," : "") + jsonNumber(values[i]);
  body_ += "]";
  return *this;
}
JsonWriter &JsonWriter::add(std::string_view k, const std::vector<int64_t> &values) {
  key(k);
  body_ += fmt::format("[{}]", fmt::join(values, ","));
  return *this;
}
JsonWriter &JsonWriter::add(std::string_view k, const std::vector<std::string> &values) {
  key(k);
  body_ += "[";
  for (size_t i = 0; i < values.size(); ++i)
    body_ += (i ? "," : "") + jsonQuote(values[i]);
  body_ += "]";
  return *this;
}
JsonWriter &JsonWriter::addRaw(std::string_view k, std::string_view json) {
  key(k);
  body_ += json;
  return *this;
}

const JsonValue *JsonValue::find(std::string_view key) const {
  for (const auto &[k, v] : members)
    if (k == key)
      return &v;
  return nullptr;
}

namespace {

class Parser {
public:
  explicit Parser(std::string_view text) : s_(text) {}

  Status parseDocument(JsonValue &out) {
    LOCUS_RETURN_IF_ERROR(value(out, 0));
    skipSpace();
    if (pos_ != s_.size())
      return error("trailing characters after the value");
    return Status::success();
  }

private:
  Status error(const std::string &what) const {
    return Status::error(fmt::format("JSON error at byte {}: {}", pos_, what));
  }
  void skipSpace() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' ||
                                s_[pos_] == '\r'))
      ++pos_;
  }
  bool literal(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word)
      return false;
    pos_ += word.size();
    return true;
  }

  Status value(JsonValue &out, int depth) {
    if (depth > 64)
      return error("nested too deeply");
    skipSpace();
    if (pos_ >= s_.size())
      return error("unexpected end of input");
    char c = s_[pos_];
    if (c == '{')
      return object(out, depth);
    if (c == '[')
      return array(out, depth);
    if (c == '"') {
      out.kind = JsonValue::Kind::String;
      return string(out.text);
    }
    if (literal("true") || literal("false")) {
      out.kind = JsonValue::Kind::Bool;
      out.boolean = s_[pos_ - 1] == 'e' && s_[pos_ - 2] == 'u'; // "true", not "false"
      return Status::success();
    }
    if (literal("null")) {
      out.kind = JsonValue::Kind::Null;
      return Status::success();
    }
    return number(out);
  }

  Status number(JsonValue &out) {
    size_t start = pos_;
    if (pos_ < s_.size() && s_[pos_] == '-')
      ++pos_;
    while (pos_ < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[pos_])) ||
                                s_[pos_] == '.' || s_[pos_] == 'e' || s_[pos_] == 'E' ||
                                s_[pos_] == '+' || s_[pos_] == '-'))
      ++pos_;
    std::string text(s_.substr(start, pos_ - start));
    char *end = nullptr;
    out.number = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0') {
      pos_ = start;
      return error("expected a value");
    }
    out.kind = JsonValue::Kind::Number;
    return Status::success();
  }

  Status string(std::string &out) {
    ++pos_; // opening quote
    out.clear();
    while (pos_ < s_.size() && s_[pos_] != '"') {
      char c = s_[pos_++];
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= s_.size())
        break;
      char e = s_[pos_++];
      switch (e) {
      case '"':
      case '\\':
      case '/':
        out += e;
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'u': {
        if (pos_ + 4 > s_.size())
          return error("truncated \\u escape");
        std::string hex(s_.substr(pos_, 4));
        char *end = nullptr;
        unsigned code = static_cast<unsigned>(std::strtoul(hex.c_str(), &end, 16));
        if (*end != '\0')
          return error("bad \\u escape");
        pos_ += 4;
        // UTF-8 encode (surrogate pairs are kept as two 3-byte sequences).
        if (code < 0x80) {
          out += static_cast<char>(code);
        } else if (code < 0x800) {
          out += static_cast<char>(0xc0 | (code >> 6));
          out += static_cast<char>(0x80 | (code & 0x3f));
        } else {
          out += static_cast<char>(0xe0 | (code >> 12));
          out += static_cast<char>(0x80 | ((code >> 6) & 0x3f));
          out += static_cast<char>(0x80 | (code & 0x3f));
        }
        break;
      }
      default:
        return error(fmt::format("bad escape \\{}", e));
      }
    }
    if (pos_ >= s_.size())
      return error("unterminated string");
    ++pos_; // closing quote
    return Status::success();
  }

  Status array(JsonValue &out, int depth) {
    out.kind = JsonValue::Kind::Array;
    ++pos_;
    skipSpace();
    if (pos_ < s_.size() && s_[pos_] == ']') {
      ++pos_;
      return Status::success();
    }
    for (;;) {
      out.items.emplace_back();
      LOCUS_RETURN_IF_ERROR(value(out.items.back(), depth + 1));
      skipSpace();
      if (pos_ < s_.size() && s_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (pos_ < s_.size() && s_[pos_] == ']') {
        ++pos_;
        return Status::success();
      }
      return error("expected ',' or ']'");
    }
  }

  Status object(JsonValue &out, int depth) {
    out.kind = JsonValue::Kind::Object;
    ++pos_;
    skipSpace();
    if (pos_ < s_.size() && s_[pos_] == '}') {
      ++pos_;
      return Status::success();
    }
    for (;;) {
      skipSpace();
      if (pos_ >= s_.size() || s_[pos_] != '"')
        return error("expected a member name");
      std::string name;
      LOCUS_RETURN_IF_ERROR(string(name));
      skipSpace();
      if (pos_ >= s_.size() || s_[pos_] != ':')
        return error("expected ':'");
      ++pos_;
      out.members.emplace_back(std::move(name), JsonValue{});
      LOCUS_RETURN_IF_ERROR(value(out.members.back().second, depth + 1));
      skipSpace();
      if (pos_ < s_.size() && s_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (pos_ < s_.size() && s_[pos_] == '}') {
        ++pos_;
        return Status::success();
      }
      return error("expected ',' or '}'");
    }
  }

  std::string_view s_;
  size_t pos_ = 0;
};

} // namespace

Status parseJson(std::string_view text, JsonValue &out) {
  out = JsonValue{};
  return Parser(text).parseDocument(out);
}

} // namespace locus::rt::train
