// The access_log processor: one Apache/Nginx access-log line per record -> a JSON object.
//
// Output (members in this order, each left out when the log has "-" there):
//   client_ip, ident, user          strings
//   @timestamp                      "2000-10-10T20:55:36.000Z": the log's local time converted
//                                   to UTC with its zone offset
//   method, path, protocol          strings, from a request line METHOD SP target [SP HTTP/x];
//                                   path is the request target as logged (query string
//                                   included, nothing URL-decoded); protocol is absent for an
//                                   HTTP/0.9 line
//   request                         only when the request is neither "-" nor a request line
//                                   (scanner garbage, TLS bytes on the HTTP port): the text
//                                   between the quotes, so the line is still indexed
//   status                          number
//   bytes                           number, 0 for "-" (always present)
//   referrer, user_agent            strings (combined format only)
//   <keep_line_field>               the line as logged, escapes not decoded, trailing
//                                   whitespace trimmed (when configured)
//
// Strings are the logged text with the log format's escapes for printable characters decoded:
// \" and \\ (Apache) and \xHH for a printable ASCII byte (Nginx writes " and \ as \x22 and
// \x5C). Other escapes (\n, \xHH of a control or non-ASCII byte) are kept as written, so every
// string is valid UTF-8 when the line is; invalid UTF-8 bytes in the line itself are written
// as the text \xHH for the same reason (OpenSearch rejects a document that is not UTF-8).
//
// Cost per record: one pass to tokenize, one to check for escapes and non-ASCII, and the JSON
// members from the batch's pool. Strings reference the record's bytes (which live in the batch,
// as the JSON value does) and are copied only when an escape must be decoded.
#include <rapidjson/document.h>

#include <memory>
#include <string>
#include <string_view>

#include "common/time_format.h"
#include "pipeline/processor.h"
#include "processors/access_log_parser.h"

namespace tideline::pipeline {
namespace {

using rapidjson::SizeType;
using rapidjson::StringRef;

// Length of the well-formed UTF-8 sequence starting at p (1..4 bytes, p[0] >= 0x80), or 0.
size_t Utf8SequenceLength(const unsigned char* p, size_t available) {
  const unsigned char c = p[0];
  size_t len;
  unsigned char lo = 0x80, hi = 0xbf;  // allowed range of the second byte
  if (c >= 0xc2 && c <= 0xdf) {
    len = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    len = 3;
    if (c == 0xe0) lo = 0xa0;  // overlong
    if (c == 0xed) hi = 0x9f;  // surrogates
  } else if (c >= 0xf0 && c <= 0xf4) {
    len = 4;
    if (c == 0xf0) lo = 0x90;  // overlong
    if (c == 0xf4) hi = 0x8f;  // above U+10FFFF
  } else {
    return 0;
  }
  if (available < len || p[1] < lo || p[1] > hi) return 0;
  for (size_t i = 2; i < len; ++i) {
    if (p[i] < 0x80 || p[i] > 0xbf) return 0;
  }
  return len;
}

constexpr int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

enum class Escapes {
  kDecode,  // a field: decode the log format's escapes of printable characters
  kKeep,    // the whole line (keep_line_field): as logged
};

// Rewrites `raw` by the rules in the file comment, calling emit(const char*, size_t) for each
// piece of output. Run twice: once to size the output, once to write it.
template <typename Emit>
void DecodeText(std::string_view raw, Escapes escapes, Emit&& emit) {
  constexpr char kHex[] = "0123456789abcdef";
  const auto* p = reinterpret_cast<const unsigned char*>(raw.data());
  const size_t n = raw.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    if (c == '\\' && escapes == Escapes::kDecode && i + 1 < n) {
      const char next = static_cast<char>(p[i + 1]);
      if (next == '"' || next == '\\') {
        emit(&raw[i + 1], 1);
        i += 2;
        continue;
      }
      if (next == 'x' && i + 3 < n) {
        const int high = HexValue(raw[i + 2]), low = HexValue(raw[i + 3]);
        const int byte = high * 16 + low;
        if (high >= 0 && low >= 0 && byte >= 0x20 && byte < 0x7f) {
          const char decoded = static_cast<char>(byte);
          emit(&decoded, 1);
          i += 4;
          continue;
        }
      }
      emit(&raw[i], 1);  // an escape we keep as written
      ++i;
      continue;
    }
    if (c < 0x80) {
      emit(&raw[i], 1);
      ++i;
      continue;
    }
    const size_t len = Utf8SequenceLength(p + i, n - i);
    if (len > 0) {
      emit(&raw[i], len);
      i += len;
    } else {
      const char escaped[4] = {'\\', 'x', kHex[c >> 4], kHex[c & 0xf]};
      emit(escaped, 4);
      ++i;
    }
  }
}

// Whether TextValue may have to rewrite `s`: a non-ASCII byte, or a backslash when decoding.
// No early exit, so the compiler vectorizes it; one pass over the line usually settles every
// field at once.
bool NeedsRewrite(std::string_view s, Escapes escapes) {
  unsigned char bits = 0;
  bool backslash = false;
  for (const char c : s) {
    bits |= static_cast<unsigned char>(c);
    backslash |= c == '\\';
  }
  return bits >= 0x80 || (escapes == Escapes::kDecode && backslash);
}

// A JSON string of a field's logged text: a reference to `raw` (which lives in the batch) when
// nothing needs rewriting, else a rewritten copy in the batch's pool.
JsonValue TextValue(std::string_view raw, JsonAllocator& alloc, Escapes escapes) {
  if (!NeedsRewrite(raw, escapes)) {
    return JsonValue(StringRef(raw.data(), static_cast<SizeType>(raw.size())));
  }
  size_t size = 0;
  DecodeText(raw, escapes, [&size](const char*, size_t n) { size += n; });
  if (size == 0) return JsonValue(StringRef(""));
  char* out = static_cast<char*>(alloc.Malloc(size));
  size_t at = 0;
  DecodeText(raw, escapes, [out, &at](const char* s, size_t n) {
    for (size_t i = 0; i < n; ++i)
      out[at + i] = s[i];
    at += n;
  });
  return JsonValue(StringRef(out, static_cast<SizeType>(size)));
}

// Builds one line's document.
class DocumentBuilder {
 public:
  DocumentBuilder(const AccessLogLine& line, JsonAllocator& alloc)
      : alloc_(alloc), plain_line_(!NeedsRewrite(line.line, Escapes::kDecode)) {}

  // Adds `key: text` unless the log says "-" there.
  void Text(const char* key, std::string_view raw) {
    if (raw == "-") return;
    JsonValue value = plain_line_
                          ? JsonValue(StringRef(raw.data(), static_cast<SizeType>(raw.size())))
                          : TextValue(raw, alloc_, Escapes::kDecode);
    obj_.AddMember(StringRef(key), value, alloc_);
  }
  void Number(const char* key, uint64_t number) {
    JsonValue value(number);
    obj_.AddMember(StringRef(key), value, alloc_);
  }
  void Timestamp(const char* key, int64_t epoch_ms) {
    char text[kIso8601MillisLength];
    // Cannot fail: the parser rejects instants FormatIso8601Millis cannot spell.
    FormatIso8601Millis(epoch_ms, text);
    JsonValue value(text, static_cast<SizeType>(sizeof(text)), alloc_);
    obj_.AddMember(StringRef(key), value, alloc_);
  }
  JsonValue& object() { return obj_; }

 private:
  JsonAllocator& alloc_;
  const bool plain_line_;
  // AddMember's first growth reserves 16 members: one allocation for all of ours.
  JsonValue obj_{rapidjson::kObjectType};
};

JsonValue ToJson(const AccessLogLine& line, JsonAllocator& alloc) {
  DocumentBuilder doc(line, alloc);
  doc.Text("client_ip", line.client_ip);
  doc.Text("ident", line.ident);
  doc.Text("user", line.user);
  doc.Timestamp("@timestamp", line.timestamp_ms);
  if (line.request_split) {
    doc.Text("method", line.method);
    doc.Text("path", line.target);
    if (!line.protocol.empty()) doc.Text("protocol", line.protocol);
  } else if (!line.request.empty()) {
    doc.Text("request", line.request);
  }
  doc.Number("status", static_cast<uint64_t>(line.status));
  doc.Number("bytes", line.bytes);
  if (line.combined) {
    doc.Text("referrer", line.referrer);
    doc.Text("user_agent", line.user_agent);
  }
  return std::move(doc.object());
}

class AccessLogProcessor final : public Processor {
 public:
  explicit AccessLogProcessor(AccessLogOptions options) : options_(std::move(options)) {}

  std::string_view type() const override { return "access_log"; }

  void Process(RecordBatch& batch) override {
    JsonAllocator& alloc = batch.allocator();
    AccessLogLine line;
    AccessLogParseError error;
    for (PipelineRecord& record : batch.records()) {
      if (!record.ok()) continue;
      const std::string_view data = batch.Bytes(record);
      if (!ParseAccessLogLine(data, line, error)) {
        RecordBatch::Fail(record, "AccessLog.ParseFailed",
                          "not an access-log line: " + DescribeAccessLogParseError(data, error));
        continue;
      }
      JsonValue obj = ToJson(line, alloc);
      if (!options_.keep_line_field.empty()) {
        // SetField, not AddMember: the field may be nested or replace a parsed one.
        SetField(obj, options_.keep_line_field, TextValue(line.line, alloc, Escapes::kKeep), alloc);
      }
      batch.SetJson(record, std::move(obj));
    }
  }

 private:
  const AccessLogOptions options_;
};

}  // namespace

Result<std::unique_ptr<Processor>> MakeAccessLogProcessor(const AccessLogOptions& options) {
  if (!options.keep_line_field.empty() && !FieldPathProblem(options.keep_line_field).empty()) {
    return Status::InvalidArgument("access_log: keep_line_field '" + options.keep_line_field +
                                   "' has an empty path segment");
  }
  return std::unique_ptr<Processor>(std::make_unique<AccessLogProcessor>(options));
}

}  // namespace tideline::pipeline
