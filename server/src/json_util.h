// RapidJSON helpers: a small writer that builds response bodies and a reader that pulls typed
// request fields, reporting wrong JSON types the way Kinesis does (SerializationException).
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace tideline::server {

// A RapidJSON output stream that writes into a std::string, so a finished document is moved
// into the response instead of copied. size_ is the logical length; the string's length is its
// capacity (grown geometrically, trimmed by Take()).
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

}  // namespace tideline::server

namespace rapidjson {
// Let Writer reserve once per token and then write without per-character capacity checks, as it
// does for its own StringBuffer.
template <>
inline void PutReserve(tideline::server::StringOutput& out, size_t count) {
  out.Reserve(count);
}
template <>
inline void PutUnsafe(tideline::server::StringOutput& out, char c) {
  out.PutUnsafe(c);
}
}  // namespace rapidjson

namespace tideline::server {

// Builds one JSON document into a string. Not thread-safe; one per response.
class JsonWriter {
 public:
  // Builds in a pooled buffer when one is free (see buffer_pool.h).
  JsonWriter();
  void StartObject() { writer_.StartObject(); }
  void EndObject() { writer_.EndObject(); }
  void StartArray() { writer_.StartArray(); }
  void EndArray() { writer_.EndArray(); }
  void Key(std::string_view k) {
    writer_.Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
  }
  // Ill-formed UTF-8 in `s` is written as U+FFFD, so the document is always valid JSON.
  void String(std::string_view s);
  // A string known to need no escaping (base64, decimal digits), written without scanning.
  void TrustedString(std::string_view s);
  // `raw` as a base64 string value, encoded straight into the output.
  void Base64String(std::string_view raw);
  void Int64(int64_t v) { writer_.Int64(v); }
  void Uint64(uint64_t v) { writer_.Uint64(v); }
  void Bool(bool v) { writer_.Bool(v); }
  // Epoch seconds with a millisecond fraction, as Kinesis sends timestamps: 1700000000.123
  void EpochSeconds(int64_t ms);
  // Reserves capacity for a response of about `bytes` bytes.
  void Reserve(size_t bytes) { buffer_.Reserve(bytes); }
  size_t size() const { return buffer_.size(); }
  // The document; the writer is spent afterwards.
  std::string Take() { return buffer_.Take(); }

 private:
  // Emits the separator for a string value and returns room for `content_bytes` between its
  // quotes, written by the caller.
  char* RawStringSlot(size_t content_bytes);

  StringOutput buffer_;
  rapidjson::Writer<StringOutput> writer_;
};

// Parses `body` as a JSON object within json::kApiBodyLimits (bounded depth and size, strict
// UTF-8; see common/json_parse.h). An empty body is an error, as on AWS. Returns the error
// message (for a SerializationException) or nullopt on success.
std::optional<std::string> ParseJsonObject(rapidjson::Document& doc, std::string_view body);
// Same, parsing in place: `body` is modified and must outlive `doc` (strings point into it).
std::optional<std::string> ParseJsonObjectInsitu(rapidjson::Document& doc, std::string& body);

// Reads typed members of JSON objects. An absent or null member is nullopt; a member of the
// wrong JSON type records a serialization error (the first one wins) and reads as nullopt.
class FieldReader {
 public:
  std::optional<std::string_view> String(const rapidjson::Value& obj, const char* name);
  // Integers only; a fractional number or one outside int64 is a serialization error.
  std::optional<int64_t> Integer(const rapidjson::Value& obj, const char* name);
  // A Timestamp member: epoch seconds as a JSON number, returned in ms.
  std::optional<int64_t> TimestampMs(const rapidjson::Value& obj, const char* name);
  const rapidjson::Value* Array(const rapidjson::Value& obj, const char* name);
  const rapidjson::Value* Object(const rapidjson::Value& obj, const char* name);

  bool ok() const { return !error_.has_value(); }
  const std::string& error() const { return *error_; }
  void Fail(std::string message);

 private:
  const rapidjson::Value* Member(const rapidjson::Value& obj, const char* name);
  std::optional<std::string> error_;
};

}  // namespace tideline::server
