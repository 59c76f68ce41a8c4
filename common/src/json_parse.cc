#include "common/json_parse.h"

#include <cmath>

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

// Counts nesting for IsJsonObject; builds nothing.
class ShapeHandler : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, ShapeHandler> {
 public:
  explicit ShapeHandler(const Limits& limits) : limits_(limits) {}
  bool Default() { return Count(); }
  bool Double(double d) {
    if (std::isfinite(d)) return Count();
    hit_ = LimitHit::kNumber;
    return false;
  }
  bool String(const char* s, rapidjson::SizeType n, bool) { return Count() && Utf8(s, n); }
  bool Key(const char* s, rapidjson::SizeType n, bool) { return Utf8(s, n); }
  bool StartObject() { return Open(); }
  bool EndObject(rapidjson::SizeType) { return Close(); }
  bool StartArray() { return Open(); }
  bool EndArray(rapidjson::SizeType) { return Close(); }

  LimitHit hit() const { return hit_; }

 private:
  bool Count() {
    if (++values_ <= limits_.max_values) return true;
    hit_ = LimitHit::kValues;
    return false;
  }
  bool Open() {
    if (!Count()) return false;
    if (++depth_ <= limits_.max_depth) return true;
    hit_ = LimitHit::kDepth;
    return false;
  }
  bool Close() {
    --depth_;
    return true;
  }
  bool Utf8(const char* s, rapidjson::SizeType n) {
    if (std::memchr(s, 0xED, n) == nullptr || IsValidUtf8({s, n})) return true;
    hit_ = LimitHit::kEncoding;
    return false;
  }
  const Limits& limits_;
  uint32_t depth_ = 0;
  size_t values_ = 0;
  LimitHit hit_ = LimitHit::kNone;
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
  detail::ShapeHandler handler(limits);
  const rapidjson::ParseResult result = reader.Parse<detail::kFlags>(stream, handler);
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

bool IsJsonObject(std::string_view text, const Limits& limits) {
  return !CheckJsonObject(text, limits).has_value();
}

}  // namespace tideline::json
