// AWS's event-stream encoding (content type application/vnd.amazon.eventstream): the framing of
// SubscribeToShard's response body, in which each event is one message:
//
//   total length   uint32, big-endian: the whole message, these 12 bytes and the CRC included
//   headers length uint32, big-endian
//   prelude CRC    CRC-32 (IEEE, as zlib's crc32) of the 8 bytes above
//   headers        each: name length (1 byte), name, value type (1 byte), value
//   payload        the rest
//   message CRC    CRC-32 of everything before it
//
// Header values: 0 true, 1 false (no bytes), 2 byte, 3 int16, 4 int32, 5 int64, 8 timestamp
// (int64 ms), 6 bytes and 7 string (uint16 length, then the bytes), 9 uuid (16 bytes).
//
// The server only writes messages with string headers; the decoder reads every type, for the
// tests, the benchmarks and the fuzzer, and refuses anything malformed without reading past
// what it was given.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace tideline::eventstream {

// The prelude (12 bytes) and the message CRC (4).
inline constexpr size_t kOverhead = 16;
// The largest message either side accepts: 16 MiB of payload and 128 KiB of headers, as AWS's
// own limits for the encoding.
inline constexpr size_t kMaxPayload = 16u << 20;
inline constexpr size_t kMaxHeaders = 128u << 10;

struct StringHeader {
  std::string_view name;   // at most 255 bytes
  std::string_view value;  // at most 65,535 bytes
};

// Appends one message with `headers` (all of string type) and `payload` to `out`. The caller
// keeps names and values within their limits (they are constants and short ids here).
void AppendMessage(std::string& out, std::span<const StringHeader> headers,
                   std::string_view payload);

// The messages Kinesis sends: an event (":message-type" event, ":event-type" `type`,
// ":content-type" `content_type`) and a modeled exception (":message-type" exception,
// ":exception-type" `type`).
void AppendEvent(std::string& out, std::string_view type, std::string_view content_type,
                 std::string_view payload);
void AppendException(std::string& out, std::string_view type, std::string_view content_type,
                     std::string_view payload);

// An event built in place, so that a large payload is written once, where it ends up: reserve
// EventPrefixSize(type, content_type) bytes, write the payload after them, then 4 bytes of room
// for the CRC, and call FinishEvent on the whole span, which fills in the prelude, the headers
// and the CRC. The result is what AppendEvent makes of the same payload.
size_t EventPrefixSize(std::string_view type, std::string_view content_type);
void FinishEvent(std::span<char> message, std::string_view type, std::string_view content_type);

// The CRC-32 the encoding uses, continued from `crc` (0 to start).
uint32_t Crc32(uint32_t crc, std::string_view bytes);

struct HeaderValue {
  enum class Type : uint8_t {
    kTrue = 0,
    kFalse = 1,
    kByte = 2,
    kShort = 3,
    kInteger = 4,
    kLong = 5,
    kBytes = 6,
    kString = 7,
    kTimestamp = 8,
    kUuid = 9,
  };
  Type type = Type::kString;
  int64_t number = 0;  // kByte .. kLong, kTimestamp; 1/0 for kTrue/kFalse
  std::string bytes;   // kBytes, kString, kUuid
};

struct Message {
  std::vector<std::pair<std::string, HeaderValue>> headers;
  std::string payload;

  // The string value of header `name`, or empty when absent or not a string.
  std::string_view Header(std::string_view name) const;
};

// Decodes one message from the start of `in`. Returns the message and sets *consumed to its
// length; nullopt with OK status when `in` holds only part of a message (feed more);
// InvalidArgument for a malformed one (bad lengths, CRCs, header types or sizes), after which
// the stream cannot be resynchronised.
Result<std::optional<Message>> DecodeMessage(std::string_view in, size_t* consumed);

// Reassembles messages from a body that arrives in pieces of any size.
class Decoder {
 public:
  // Appends `bytes` and moves every message now complete to `out`. After an error every
  // further call returns it.
  Status Feed(std::string_view bytes, std::vector<Message>* out);
  // Bytes held of a message not yet complete.
  size_t buffered() const { return buffer_.size() - start_; }

 private:
  std::string buffer_;
  size_t start_ = 0;
  Status error_ = Status::Ok();
};

}  // namespace tideline::eventstream
