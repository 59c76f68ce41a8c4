#include "common/json_parse.h"

#include <fmt/format.h>
#include <rapidjson/error/en.h>

namespace tideline::json {
namespace detail {

std::string ErrorMessage(rapidjson::ParseErrorCode code, size_t offset, LimitHit hit,
                         const Limits& limits) {
  switch (hit) {
    case LimitHit::kDepth:
      return fmt::format("JSON nested deeper than {} levels at offset {}", limits.max_depth,
                         offset);
    case LimitHit::kValues:
      return fmt::format("JSON holds more than {} values (at offset {})", limits.max_values,
                         offset);
    case LimitHit::kEncoding:
      return fmt::format(
          "Invalid UTF-8 (an unpaired surrogate escape) in a string before offset {}", offset);
    case LimitHit::kNumber:
      return fmt::format("Number out of range (beyond a double) before offset {}", offset);
    case LimitHit::kNone:
      break;
  }
  return fmt::format("Malformed JSON at offset {}: {}", offset, rapidjson::GetParseError_En(code));
}

size_t SkipWhitespace(std::string_view text, size_t from) {
  size_t i = from;
  while (i < text.size() &&
         (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')) {
    ++i;
  }
  return i;
}

namespace {

// What BoundedHandler forwards to when only the shape is checked: accepts everything, keeps
// nothing.
struct NullSink {
  bool Null() { return true; }
  bool Bool(bool) { return true; }
  bool Int(int) { return true; }
  bool Uint(unsigned) { return true; }
  bool Int64(int64_t) { return true; }
  bool Uint64(uint64_t) { return true; }
  bool Double(double) { return true; }
  bool RawNumber(const char*, rapidjson::SizeType, bool) { return true; }
  bool String(const char*, rapidjson::SizeType, bool) { return true; }
  bool Key(const char*, rapidjson::SizeType, bool) { return true; }
  bool StartObject() { return true; }
  bool EndObject(rapidjson::SizeType) { return true; }
  bool StartArray() { return true; }
  bool EndArray(rapidjson::SizeType) { return true; }
};

}  // namespace
}  // namespace detail

std::optional<std::string> CheckJsonObject(std::string_view text, const Limits& limits) {
  const size_t start = detail::SkipWhitespace(text, 0);
  if (start == text.size()) return std::string("empty, where a JSON object was expected");
  if (text[start] != '{')
    return fmt::format("a JSON object must start with '{{' (offset {})", start);
  rapidjson::MemoryStream memory(text.data(), text.size());
  rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> stream(memory);
  rapidjson::Reader reader;
  detail::NullSink sink;
  detail::BoundedHandler<detail::NullSink> handler(sink, limits);
  const rapidjson::ParseResult result =
      reader.Parse<detail::kFlags | rapidjson::kParseValidateEncodingFlag>(stream, handler);
  if (result.IsError()) {
    return detail::ErrorMessage(result.Code(), result.Offset(), handler.hit(), limits);
  }
  const size_t end = detail::SkipWhitespace(text, stream.Tell());
  if (end != text.size()) {
    return detail::ErrorMessage(rapidjson::kParseErrorDocumentRootNotSingular, end,
                                detail::LimitHit::kNone, limits);
  }
  return std::nullopt;
}

}  // namespace tideline::json
