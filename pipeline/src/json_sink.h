// A RapidJSON output stream appending to a std::string, for building JSON lines and requests.
#pragma once

#include <rapidjson/writer.h>

#include <string>
#include <string_view>

namespace tideline::pipeline {

class StringSink {
 public:
  using Ch = char;
  explicit StringSink(std::string& out) : out_(out) {}
  void Put(char c) { out_.push_back(c); }
  void Flush() {}

 private:
  std::string& out_;
};

using StringWriter = rapidjson::Writer<StringSink>;

inline void WriteString(StringWriter& w, std::string_view s) {
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

}  // namespace tideline::pipeline
