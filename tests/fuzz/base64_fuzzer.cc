// common/base64.h: strict decode of arbitrary text, and encode -> decode round trips.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/base64.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using tideline::Base64Decode;
  using tideline::Base64Encode;
  const std::string_view in(reinterpret_cast<const char*>(data), size);

  // Decoding untrusted text: either nullopt, or bytes that encode back to exactly the input
  // (strict decoding accepts one spelling per byte string).
  const std::optional<std::string> decoded = Base64Decode(in);
  if (decoded) {
    FUZZ_CHECK(decoded->size() <= tideline::Base64MaxDecodedSize(in.size()));
    FUZZ_CHECK(Base64Encode(*decoded) == in);
  }

  // The buffer form agrees with the string form and stays within its stated bound.
  std::string buffer(tideline::Base64MaxDecodedSize(in.size()), '\0');
  const std::optional<size_t> n = Base64Decode(in, buffer.data());
  FUZZ_CHECK(n.has_value() == decoded.has_value());
  if (n) FUZZ_CHECK(std::string_view(buffer.data(), *n) == *decoded);

  // Any bytes round trip.
  const std::string encoded = Base64Encode(in);
  FUZZ_CHECK(encoded.size() == tideline::Base64EncodedSize(in.size()));
  std::string appended = "x";
  tideline::Base64Append(in, appended);
  FUZZ_CHECK(std::string_view(appended).substr(1) == encoded);
  const std::optional<std::string> back = Base64Decode(encoded);
  FUZZ_CHECK(back && *back == in);
  return 0;
}
