// Writing JSON: the one string escaper and the RapidJSON output streams every module builds its
// documents with (API responses, _bulk bodies, backup lines, Lambda requests, CLI requests).
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

#include <rapidjson/writer.h>

namespace tideline::json {

// A RapidJSON output stream appending to a caller's std::string (lines built into a buffer).
class StringAppender {
 public:
  using Ch = char;
  explicit StringAppender(std::string& out) : out_(out) {}
  void Put(char c) { out_.push_back(c); }
  void Flush() {}

 private:
  std::string& out_;
};

// A RapidJSON output stream that owns its buffer, so a finished document is moved out instead
// of copied. size() is the logical length; the string's length is its capacity (grown
// geometrically, trimmed by Take()).
class StringOutput {
 public:
  using Ch = char;
  // Builds in `buffer` (its size() is taken as capacity; contents are overwritten).
  explicit StringOutput(std::string buffer = {}) : buf_(std::move(buffer)) {}
  void Reserve(size_t n) {
    if (buf_.size() - size_ < n) buf_.resize(std::max(2 * buf_.size(), size_ + n));
  }
  void PutUnsafe(char c) { buf_[size_++] = c; }
  void Put(char c) {
    Reserve(1);
    PutUnsafe(c);
  }
  // Room for n bytes the caller writes right away.
  char* Push(size_t n) {
    Reserve(n);
    char* p = buf_.data() + size_;
    size_ += n;
    return p;
  }
  void Flush() {}
  size_t size() const { return size_; }
  std::string Take() {
    buf_.resize(size_);
    size_ = 0;
    return std::move(buf_);
  }

 private:
  std::string buf_;
  size_t size_ = 0;
};

// A writer appending to a std::string.
using StringWriter = rapidjson::Writer<StringAppender>;

// Writes `s` as a string value through any RapidJSON writer.
template <typename Writer>
void WriteString(Writer& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

// Appends `s` as a JSON string literal, without a writer. Bytes >= 0x80 pass through: callers
// hand it UTF-8 (ids, index names, partition keys, ARNs). Strings that need no escaping, the
// usual case, are appended in one piece.
inline void AppendJsonString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  size_t plain = 0;
  while (plain < s.size() && static_cast<unsigned char>(s[plain]) >= 0x20 && s[plain] != '"' &&
         s[plain] != '\\') {
    ++plain;
  }
  out.append(s.substr(0, plain));
  for (const char c : s.substr(plain)) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (u < 0x20) {
      out.append("\\u00");
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
}

}  // namespace tideline::json

namespace rapidjson {
// Let Writer reserve once per token and then write without per-character capacity checks, as it
// does for its own StringBuffer.
template <>
inline void PutReserve(tideline::json::StringOutput& out, size_t count) {
  out.Reserve(count);
}
template <>
inline void PutUnsafe(tideline::json::StringOutput& out, char c) {
  out.PutUnsafe(c);
}
}  // namespace rapidjson
