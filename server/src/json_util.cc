#include "json_util.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>
#include <rapidjson/error/en.h>

#include "buffer_pool.h"
#include "common/base64.h"
#include "common/json_parse.h"
#include "common/utf8.h"
#include "model_validator.h"

namespace tideline::server {

JsonWriter::JsonWriter() : buffer_(TakeResponseBuffer()), writer_(buffer_) {}

// RawValue with no bytes does the writer's separator bookkeeping; the value itself then goes
// straight into the buffer (the writer keeps no state about what follows its last token).
char* JsonWriter::RawStringSlot(size_t content_bytes) {
  writer_.RawValue("", 0, rapidjson::kStringType);
  char* slot = buffer_.Push(content_bytes + 2);
  slot[0] = '"';
  slot[content_bytes + 1] = '"';
  return slot + 1;
}

void JsonWriter::String(std::string_view s) {
  if (IsValidUtf8(s)) {
    writer_.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
    return;
  }
  // A response is always valid JSON: bytes that are not UTF-8 (from an old record, or echoed
  // from a bad request into a message) go out as U+FFFD.
  const std::string valid = ToValidUtf8(s);
  writer_.String(valid.data(), static_cast<rapidjson::SizeType>(valid.size()));
}

void JsonWriter::TrustedString(std::string_view s) {
  std::memcpy(RawStringSlot(s.size()), s.data(), s.size());
}

void JsonWriter::Base64String(std::string_view raw) {
  Base64Encode(raw, RawStringSlot(Base64EncodedSize(raw.size())));
}

void JsonWriter::EpochSeconds(int64_t ms) {
  char buf[32];
  const int64_t secs = ms / 1000;
  const int64_t frac = ms % 1000;
  int n = 0;
  if (ms < 0) {
    n = std::snprintf(buf, sizeof(buf), "%lld", static_cast<long long>(secs));
  } else {
    n = std::snprintf(buf, sizeof(buf), "%lld.%03lld", static_cast<long long>(secs),
                      static_cast<long long>(frac));
  }
  writer_.RawValue(buf, static_cast<size_t>(n), rapidjson::kNumberType);
}

namespace {

std::optional<std::string> CheckParsed(std::optional<std::string> error,
                                       const rapidjson::Document& doc) {
  if (error) return error;
  if (!doc.IsObject()) return std::string("Expected a JSON object as the request body");
  return std::nullopt;
}

bool IsBlank(std::string_view body) {
  return body.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

// AWS answers an empty body with SerializationException too: every request is a JSON object,
// `{}` when it has no members.
constexpr std::string_view kEmptyBody = "Empty request body: expected a JSON object";

}  // namespace

std::optional<std::string> ParseJsonObject(rapidjson::Document& doc, std::string_view body) {
  if (IsBlank(body)) return std::string(kEmptyBody);
  return CheckParsed(json::ParseJson(doc, body, json::kApiBodyLimits), doc);
}

std::optional<std::string> ParseJsonObjectInsitu(rapidjson::Document& doc, std::string& body) {
  if (IsBlank(body)) return std::string(kEmptyBody);
  return CheckParsed(json::ParseJsonInsitu(doc, body, json::kApiBodyLimits), doc);
}

const rapidjson::Value* FieldReader::Member(const rapidjson::Value& obj, const char* name) {
  if (!obj.IsObject()) return nullptr;
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || it->value.IsNull()) return nullptr;
  return &it->value;
}

std::optional<std::string_view> FieldReader::String(const rapidjson::Value& obj,
                                                    const char* name) const {
  const rapidjson::Value* v = Member(obj, name);
  if (!v || !v->IsString()) return std::nullopt;
  return std::string_view(v->GetString(), v->GetStringLength());
}

std::optional<int64_t> FieldReader::Integer(const rapidjson::Value& obj, const char* name) const {
  const rapidjson::Value* v = Member(obj, name);
  if (!v || !v->IsNumber()) return std::nullopt;
  return ModelInteger(*v, /*is_long=*/false);
}

std::optional<int64_t> FieldReader::TimestampMs(const rapidjson::Value& obj,
                                                const char* name) const {
  constexpr double kMaxSeconds = 1e14;
  const rapidjson::Value* v = Member(obj, name);
  if (!v || !v->IsNumber()) return std::nullopt;
  if (v->IsInt64() && std::llabs(v->GetInt64()) <= static_cast<int64_t>(kMaxSeconds)) {
    return v->GetInt64() * 1000;
  }
  const double secs = std::clamp(v->GetDouble(), -kMaxSeconds, kMaxSeconds);
  return static_cast<int64_t>(std::llround(secs * 1000.0));
}

const rapidjson::Value* FieldReader::Array(const rapidjson::Value& obj, const char* name) const {
  const rapidjson::Value* v = Member(obj, name);
  return v && v->IsArray() ? v : nullptr;
}

const rapidjson::Value* FieldReader::Object(const rapidjson::Value& obj, const char* name) const {
  const rapidjson::Value* v = Member(obj, name);
  return v && v->IsObject() ? v : nullptr;
}

}  // namespace tideline::server
