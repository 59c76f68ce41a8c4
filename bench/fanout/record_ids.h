// How the latency run finds its own records in a subscription's events without parsing them.
//
// Each record's data starts with its id as 18 lower-case hex digits. 18 bytes are exactly 24
// base64 characters, so the id is the first 24 characters of the record's "Data" in any JSON
// answer, and the rest of the data (fixed filler) encodes to the same characters whatever the
// id: a producer patches 24 characters of a pre-built request per record.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace tideline::fanout {

inline constexpr size_t kIdBytes = 18;
inline constexpr size_t kIdBase64Chars = 24;

// Writes the base64 of `id`'s 18 hex digits to out[0, 24).
void WriteRecordIdBase64(uint64_t id, char* out);

// The id in the first 24 base64 characters of a record's data, or nullopt if they are not
// one (too short, not base64, not hex digits).
[[nodiscard]] std::optional<uint64_t> ReadRecordIdBase64(std::string_view base64);

struct EventRecords {
  // Records in the event (its "Data" values).
  uint64_t records = 0;
  // Records whose data did not start with an id, or whose Data was not a terminated string.
  uint64_t unreadable = 0;
};

// Calls `on_id(id)` for each record of a SubscribeToShardEvent's JSON payload, in order. The
// scan expects the server's JSON (each record's "Data" once, '/' possibly escaped as "\/") and
// tolerates any input.
template <typename OnId>
EventRecords ForEachRecordId(std::string_view payload, OnId&& on_id);

// The base64 characters of a Data value starting at `pos` (after the opening quote), with "\/"
// unescaped, up to `n` of them, into `out`; returns how many were written and sets `end` to the
// closing quote (npos if unterminated).
size_t ReadBase64Prefix(std::string_view json, size_t pos, char* out, size_t n, size_t& end);

// Position of the first character of the next "Data" string value at or after `from` (after
// its opening quote), or npos.
size_t NextDataValue(std::string_view json, size_t from);

template <typename OnId>
EventRecords ForEachRecordId(std::string_view payload, OnId&& on_id) {
  EventRecords out;
  size_t pos = NextDataValue(payload, 0);
  while (pos != std::string_view::npos) {
    ++out.records;
    char prefix[kIdBase64Chars];
    size_t end = 0;
    size_t got = ReadBase64Prefix(payload, pos, prefix, kIdBase64Chars, end);
    std::optional<uint64_t> id;
    if (got == kIdBase64Chars) id = ReadRecordIdBase64(std::string_view(prefix, got));
    if (id) {
      on_id(*id);
    } else {
      ++out.unreadable;
    }
    if (end == std::string_view::npos) break;
    pos = NextDataValue(payload, end + 1);
  }
  return out;
}

}  // namespace tideline::fanout
