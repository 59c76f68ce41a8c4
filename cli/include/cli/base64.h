// Standard base64 (RFC 4648, alphabet A-Z a-z 0-9 + /, '=' padding): how the Kinesis JSON API
// carries record data.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace tideline::cli {

std::string Base64Encode(std::string_view bytes);

// nullopt for anything that is not canonical padded base64: characters outside the alphabet,
// a length that is not a multiple of 4, misplaced padding, or non-zero unused bits.
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace tideline::cli
