#include "json_util.h"

#include <cmath>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>
#include <rapidjson/error/en.h>

#include "buffer_pool.h"
#include "common/base64.h"
#include "common/json_parse.h"
#include "common/utf8.h"

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

void FieldReader::Fail(std::string message) {
  if (!error_) error_ = std::move(message);
}

const rapidjson::Value* FieldReader::Member(const rapidjson::Value& obj, const char* name) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || it->value.IsNull()) return nullptr;
  return &it->value;
}

std::optional<std::string_view> FieldReader::String(const rapidjson::Value& obj, const char* name) {
  const rapidjson::Value* v = Member(obj, name);
  if (!v) return std::nullopt;
  if (!v->IsString()) {
    Fail(fmt::format("Unexpected JSON type for '{}': expected a string", name));
    return std::nullopt;
  }
  return std::string_view(v->GetString(), v->GetStringLength());
}

std::optional<int64_t> FieldReader::Integer(const rapidjson::Value& obj, const char* name) {
  const rapidjson::Value* v = Member(obj, name);
  if (!v) return std::nullopt;
  if (!v->IsInt64()) {
    Fail(fmt::format("Unexpected JSON value for '{}': expected an integer", name));
    return std::nullopt;
  }
  return v->GetInt64();
}

std::optional<int64_t> FieldReader::TimestampMs(const rapidjson::Value& obj, const char* name) {
  const rapidjson::Value* v = Member(obj, name);
  if (!v) return std::nullopt;
  if (!v->IsNumber() || !std::isfinite(v->GetDouble()) || std::fabs(v->GetDouble()) > 1e14) {
    Fail(fmt::format("Unexpected JSON value for '{}': expected epoch seconds", name));
    return std::nullopt;
  }
  if (v->IsInt64()) return v->GetInt64() * 1000;
  return static_cast<int64_t>(std::llround(v->GetDouble() * 1000.0));
}

const rapidjson::Value* FieldReader::Array(const rapidjson::Value& obj, const char* name) {
  const rapidjson::Value* v = Member(obj, name);
  if (v && !v->IsArray()) {
    Fail(fmt::format("Unexpected JSON type for '{}': expected a list", name));
    return nullptr;
  }
  return v;
}

const rapidjson::Value* FieldReader::Object(const rapidjson::Value& obj, const char* name) {
  const rapidjson::Value* v = Member(obj, name);
  if (v && !v->IsObject()) {
    Fail(fmt::format("Unexpected JSON type for '{}': expected a structure", name));
    return nullptr;
  }
  return v;
}

}  // namespace tideline::server
