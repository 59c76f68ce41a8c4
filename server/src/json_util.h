// RapidJSON helpers: a small writer that builds response bodies and a reader that pulls typed
// members out of validated requests.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "common/json_write.h"

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
  // Appends `n` bytes of unspecified content outside the document, before its first token or
  // after its last: room for an envelope the caller fills in after Take() (an event-stream
  // message's prelude and headers, its CRC), so the document is written where it ends up.
  void Envelope(size_t n) { buffer_.Push(n); }
  // Reserves capacity for a response of about `bytes` bytes.
  void Reserve(size_t bytes) { buffer_.Reserve(bytes); }
  size_t size() const { return buffer_.size(); }
  // The document; the writer is spent afterwards.
  std::string Take() { return buffer_.Take(); }

 private:
  // Emits the separator for a string value and returns room for `content_bytes` between its
  // quotes, written by the caller.
  char* RawStringSlot(size_t content_bytes);

  json::StringOutput buffer_;
  rapidjson::Writer<json::StringOutput> writer_;
};

// Parses `body` as a JSON object within json::kApiBodyLimits (bounded depth and size, strict
// UTF-8; see common/json_parse.h). An empty body is an error, as on AWS. Returns the error
// message (for a SerializationException) or nullopt on success.
std::optional<std::string> ParseJsonObject(rapidjson::Document& doc, std::string_view body);
// Same, parsing in place: `body` is modified and must outlive `doc` (strings point into it).
std::optional<std::string> ParseJsonObjectInsitu(rapidjson::Document& doc, std::string& body);

// Reads members of a request that ValidateRequest (model_validator.h) has accepted, so every
// member present has its model type. An absent or null member is nullopt, and so is one of
// another JSON type (which only a request that skipped validation can hold).
class FieldReader {
 public:
  std::optional<std::string_view> String(const rapidjson::Value& obj, const char* name) const;
  // An integer member as the model reads it: truncated and clamped to Java's int.
  std::optional<int64_t> Integer(const rapidjson::Value& obj, const char* name) const;
  // A Timestamp member: epoch seconds as a JSON number, returned in ms (clamped to +-1e14 s).
  std::optional<int64_t> TimestampMs(const rapidjson::Value& obj, const char* name) const;
  const rapidjson::Value* Array(const rapidjson::Value& obj, const char* name) const;
  const rapidjson::Value* Object(const rapidjson::Value& obj, const char* name) const;

 private:
  static const rapidjson::Value* Member(const rapidjson::Value& obj, const char* name);
};

}  // namespace tideline::server
