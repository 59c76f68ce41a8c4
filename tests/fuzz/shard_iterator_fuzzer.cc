// server/src/iterator_token.h: decoding untrusted shard iterators.
//
// A random token almost never carries a valid HMAC, so the first input byte picks a mode:
//   even: the rest of the input is the token, as a client would send it;
//   odd:  the rest is a token payload that the target signs with the secret first, so the
//         parsing behind the HMAC check (lengths, names, version) is reached.
// A token that decodes must be the canonical encoding of its position.
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/base64.h"
#include "fuzz_check.h"
#include "iterator_token.h"

namespace {

constexpr std::string_view kSecret = "fuzz-iterator-secret-0123456789abcdef";

std::string Sign(std::string_view payload) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), kSecret.data(), static_cast<int>(kSecret.size()),
       reinterpret_cast<const unsigned char*>(payload.data()), payload.size(), mac, &len);
  std::string raw(payload);
  raw.append(reinterpret_cast<const char*>(mac), len);
  return tideline::Base64Encode(raw);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tideline::server;
  if (size < 1) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::string token = data[0] % 2 == 0 ? std::string(rest) : Sign(rest);

  const auto pos = DecodeShardIterator(token, kSecret);
  if (pos) {
    FUZZ_CHECK(!pos->stream_name.empty() && pos->stream_name.size() <= 255);
    FUZZ_CHECK(!pos->shard_id.empty() && pos->shard_id.size() <= 255);
    FUZZ_CHECK(EncodeShardIterator(*pos, kSecret) == token);
    // Another store's key refuses it.
    FUZZ_CHECK(!DecodeShardIterator(token, "another-store-secret"));
  }
  return 0;
}
