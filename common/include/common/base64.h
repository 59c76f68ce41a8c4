// Standard base64 (RFC 4648, alphabet A-Z a-z 0-9 + /, '=' padding): how the Kinesis JSON API
// and Firehose's record formats carry bytes. Shared by every module.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace tideline {

inline size_t Base64EncodedSize(size_t n) {
  return (n + 2) / 3 * 4;
}
// Writes the encoding of `in` to `out`, which has room for Base64EncodedSize(in.size()) bytes.
void Base64Encode(std::string_view in, char* out);
// Appends the encoding of `in` to `out`.
void Base64Append(std::string_view in, std::string& out);
std::string Base64Encode(std::string_view in);

// Upper bound of the decoded size of `in` (exact for valid input without padding).
inline size_t Base64MaxDecodedSize(size_t n) {
  return n / 4 * 3;
}
// Strict decode into `out` (room for Base64MaxDecodedSize(in.size()) bytes): length a multiple
// of 4, only the standard alphabet, '=' only as final padding, zero unused bits. Returns the
// number of bytes written, or nullopt for invalid input.
std::optional<size_t> Base64Decode(std::string_view in, char* out);
// True when Base64Decode would accept `in`; faster than decoding (no output).
bool Base64IsValid(std::string_view in);
// The same strict decode into a new string.
std::optional<std::string> Base64Decode(std::string_view in);

}  // namespace tideline
