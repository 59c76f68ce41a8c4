// The one way tideline parses JSON it did not write itself: API bodies, record data in
// processors and destinations, Lambda and OpenSearch answers, backup lines, admin bodies.
//
// RapidJSON's default parser recurses once per nesting level, so a body of 100,000 `[` runs off
// the stack, and its DOM costs ~32 bytes per value however small the input. ParseJson instead
//   - parses iteratively (an explicit, bounded stack: no input can exhaust the call stack),
//   - stops at Limits::max_depth levels of nesting and Limits::max_values values,
//   - accepts only strict UTF-8 (RFC 3629), in the raw bytes and in what \u escapes decode to,
//   - refuses numbers beyond a double's range (no infinities),
//   - requires exactly one value, with nothing but whitespace after it (a NUL is not an end).
// Every failure is a message naming the byte offset; nothing it is given can crash it.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include <rapidjson/document.h>
#include <rapidjson/encodedstream.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include "common/utf8.h"

namespace tideline::json {

struct Limits {
  // Deepest nesting of arrays and objects; a top-level object or array is depth 1.
  // Default: 100 (the documents' default, `max_document_depth`)
  uint32_t max_depth = 100;
  // Most values (scalars, arrays and objects; keys not counted) in one document.
  // Default: unlimited
  size_t max_values = std::numeric_limits<size_t>::max();
};

// Kinesis request bodies: AWS's shapes are a few levels deep and a full PutRecords (500 records
// of three members) holds ~2,000 values, so anything far beyond is not a request.
inline constexpr Limits kApiBodyLimits{.max_depth = 16, .max_values = 16384};
// Answers from servers we call (OpenSearch, Lambda endpoints, a tideline server): deep enough
// for any real answer, still bounded.
inline constexpr Limits kPeerResponseLimits{.max_depth = 64};

namespace detail {

enum class LimitHit { kNone, kDepth, kValues, kEncoding, kNumber };

// Forwards RapidJSON's SAX events to a Document while counting depth and values, and rejects
// strings whose decoded bytes are not strict UTF-8 (RapidJSON lets an unpaired low surrogate
// escape such as "\uDC00" through as CESU bytes).
template <typename Doc>
class BoundedHandler {
 public:
  using Ch = char;
  BoundedHandler(Doc& doc, const Limits& limits) : doc_(doc), limits_(limits) {}

  bool Null() { return Value() && doc_.Null(); }
  bool Bool(bool b) { return Value() && doc_.Bool(b); }
  bool Int(int i) { return Value() && doc_.Int(i); }
  bool Uint(unsigned u) { return Value() && doc_.Uint(u); }
  bool Int64(int64_t i) { return Value() && doc_.Int64(i); }
  bool Uint64(uint64_t u) { return Value() && doc_.Uint64(u); }
  bool Double(double d) {
    // RapidJSON's fast path turns some out-of-range literals (9e308) into infinity, which no JSON
    // writer can put back: refuse them as AWS and OpenSearch do.
    if (!std::isfinite(d)) {
      hit_ = LimitHit::kNumber;
      return false;
    }
    return Value() && doc_.Double(d);
  }
  bool RawNumber(const Ch* s, rapidjson::SizeType n, bool copy) {
    return Value() && doc_.RawNumber(s, n, copy);
  }
  bool String(const Ch* s, rapidjson::SizeType n, bool copy) {
    return Value() && Utf8(s, n) && doc_.String(s, n, copy);
  }
  bool Key(const Ch* s, rapidjson::SizeType n, bool copy) {
    return Utf8(s, n) && doc_.Key(s, n, copy);
  }
  bool StartObject() { return Open() && doc_.StartObject(); }
  bool EndObject(rapidjson::SizeType members) {
    --depth_;
    return doc_.EndObject(members);
  }
  bool StartArray() { return Open() && doc_.StartArray(); }
  bool EndArray(rapidjson::SizeType elements) {
    --depth_;
    return doc_.EndArray(elements);
  }

  LimitHit hit() const { return hit_; }

 private:
  bool Value() {
    if (++values_ <= limits_.max_values) return true;
    hit_ = LimitHit::kValues;
    return false;
  }
  bool Open() {
    if (!Value()) return false;
    if (++depth_ <= limits_.max_depth) return true;
    hit_ = LimitHit::kDepth;
    return false;
  }
  bool Utf8(const Ch* s, rapidjson::SizeType n) {
    // Raw bytes were validated by the reader; only an escape can decode to a surrogate (ED A0..BF).
    if (std::memchr(s, 0xED, n) == nullptr || IsValidUtf8(std::string_view(s, n))) return true;
    hit_ = LimitHit::kEncoding;
    return false;
  }

  Doc& doc_;
  const Limits& limits_;
  uint32_t depth_ = 0;
  size_t values_ = 0;
  LimitHit hit_ = LimitHit::kNone;
};

// The message for a failed parse; `limits` names the bound that was hit, if any.
std::string ErrorMessage(rapidjson::ParseErrorCode code, size_t offset, LimitHit hit,
                         const Limits& limits);
// Offset of the first non-whitespace byte of `text` at or after `from`.
size_t SkipWhitespace(std::string_view text, size_t from);

constexpr unsigned kFlags = rapidjson::kParseIterativeFlag | rapidjson::kParseStopWhenDoneFlag;

template <unsigned kExtraFlags, typename Doc, typename Stream>
std::optional<std::string> Run(Doc& doc, Stream& stream, std::string_view text,
                               const Limits& limits) {
  rapidjson::GenericReader<rapidjson::UTF8<>, rapidjson::UTF8<>> reader;
  BoundedHandler<Doc> handler(doc, limits);
  rapidjson::ParseResult result;
  auto generate = [&](Doc&) {
    result = reader.template Parse<kFlags | kExtraFlags>(stream, handler);
    return !result.IsError();
  };
  doc.Populate(generate);
  if (result.IsError()) {
    doc.SetNull();
    return ErrorMessage(result.Code(), result.Offset(), handler.hit(), limits);
  }
  const size_t end = SkipWhitespace(text, stream.Tell());
  if (end != text.size()) {
    doc.SetNull();
    return ErrorMessage(rapidjson::kParseErrorDocumentRootNotSingular, end, LimitHit::kNone,
                        limits);
  }
  return std::nullopt;
}

}  // namespace detail

// Parses `text` into `doc` (any rapidjson::GenericDocument over UTF-8). Strings are copied into
// the document's allocator. Returns nullopt on success, else the error message; `doc` is then
// null.
template <typename Doc>
std::optional<std::string> ParseJson(Doc& doc, std::string_view text, const Limits& limits) {
  rapidjson::MemoryStream memory(text.data(), text.size());
  rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> stream(memory);
  return detail::Run<rapidjson::kParseValidateEncodingFlag>(doc, stream, text, limits);
}

// The same, in place: strings decode into `text`'s own bytes and `doc` points into them, so
// `text` must outlive `doc` and is modified. No string is copied (large record data stays put).
template <typename Doc>
std::optional<std::string> ParseJsonInsitu(Doc& doc, std::string& text, const Limits& limits) {
  // The raw bytes are checked here, not by RapidJSON: its encoding check reads a sequence's
  // continuation bytes without looking for the end, so a lead byte just before the NUL that
  // ends the in-situ stream would make it read past the buffer.
  if (const size_t bad = InvalidUtf8Offset(text); bad != std::string_view::npos) {
    doc.SetNull();
    return detail::ErrorMessage(rapidjson::kParseErrorStringInvalidEncoding, bad,
                                detail::LimitHit::kNone, limits);
  }
  // std::string's buffer ends in a NUL, which the in-situ stream needs as its end marker.
  rapidjson::GenericInsituStringStream<rapidjson::UTF8<>> stream(text.data());
  // The view keeps the original size: a NUL inside the text ends the stream early, and the
  // check after the value then reports the rest.
  const std::string_view view(text.data(), text.size());
  return detail::Run<rapidjson::kParseInsituFlag>(doc, stream, view, limits);
}

// Nullopt when `text` is exactly one JSON object within `limits`, else why not; builds no DOM.
std::optional<std::string> CheckJsonObject(std::string_view text, const Limits& limits);

}  // namespace tideline::json
