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

}  // namespace tideline::pipeline
