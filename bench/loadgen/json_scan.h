// Quick scans of Kinesis JSON responses on the load generator's hot path.
//
// The generator shares the CPU with the server under test, so it does not parse whole
// responses: it looks for the few keys it needs. The scans expect the server's JSON (keys at
// most once per object, no escapes inside base64), and every function tolerates any input
// without crashing: a missing or malformed value is reported, never assumed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tideline::loadgen {

// Position of the first byte of the value of `"key":` at or after `from` (whitespace after
// the colon skipped), or npos when the key does not occur.
[[nodiscard]] size_t FindValue(std::string_view json, std::string_view key, size_t from = 0);

// The unsigned integer value of the first `"key":`; nullopt if missing or not a number.
[[nodiscard]] std::optional<uint64_t> ScanUnsigned(std::string_view json, std::string_view key);

// The string value of the first `"key":`, with JSON escapes (\" \\ \/ \b \f \n \r \t and \u
// for ASCII) undone; nullopt if missing, null, or not a well-formed string.
[[nodiscard]] std::optional<std::string> ScanString(std::string_view json, std::string_view key);

struct RecordsScan {
  // Number of `"Data":` values in the response.
  uint64_t records = 0;
  // Sum of the decoded sizes of those values (computed from the base64 length and padding).
  uint64_t payload_bytes = 0;
  // False if a Data value was not a terminated string.
  bool well_formed = true;
};

// Counts the records and their decoded payload bytes in a GetRecords response body.
[[nodiscard]] RecordsScan ScanRecords(std::string_view json);

// Decoded size of a base64 text of `length` characters ending in `padding` '=' characters.
[[nodiscard]] constexpr uint64_t Base64DecodedSize(uint64_t length, uint64_t padding) {
  return length / 4 * 3 - (padding > 2 ? 2 : padding);
}

// Standard base64 (RFC 4648, with padding) of `data`.
[[nodiscard]] std::string Base64Encode(std::string_view data);

// Appends `text` as a JSON string literal (quotes included) to `out`.
void AppendJsonString(std::string& out, std::string_view text);

}  // namespace tideline::loadgen
