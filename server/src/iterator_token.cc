#include "iterator_token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>

#include "common/base64.h"

namespace tideline::server {
namespace {

constexpr uint8_t kVersion = 1;
constexpr size_t kMacBytes = 32;
constexpr size_t kMaxNameBytes = 255;

void PutU64(std::string& out, uint64_t v) {
  for (int i = 7; i >= 0; --i)
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

uint64_t GetU64(std::string_view in, size_t at) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i)
    v = (v << 8) | static_cast<uint8_t>(in[at + i]);
  return v;
}

std::array<unsigned char, kMacBytes> Mac(std::string_view payload, std::string_view secret) {
  std::array<unsigned char, kMacBytes> mac{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(payload.data()), payload.size(), mac.data(), &len);
  return mac;
}

// Reads a u8-length-prefixed string at `at`, advancing it; nullopt when it runs past `end`.
std::optional<std::string> GetString(std::string_view in, size_t& at, size_t end) {
  if (at >= end) return std::nullopt;
  const size_t len = static_cast<uint8_t>(in[at++]);
  if (len == 0 || at + len > end) return std::nullopt;
  std::string s(in.substr(at, len));
  at += len;
  return s;
}

}  // namespace

std::string EncodeShardIterator(const IteratorPosition& pos, std::string_view secret) {
  std::string payload;
  payload.reserve(64 + pos.stream_name.size() + pos.shard_id.size());
  payload.push_back(static_cast<char>(kVersion));
  PutU64(payload, pos.stream_uid);
  PutU64(payload, pos.next_offset);
  PutU64(payload, static_cast<uint64_t>(pos.issued_ms));
  const std::string_view name = std::string_view(pos.stream_name).substr(0, kMaxNameBytes);
  const std::string_view shard = std::string_view(pos.shard_id).substr(0, kMaxNameBytes);
  payload.push_back(static_cast<char>(name.size()));
  payload.append(name);
  payload.push_back(static_cast<char>(shard.size()));
  payload.append(shard);
  const auto mac = Mac(payload, secret);
  payload.append(reinterpret_cast<const char*>(mac.data()), mac.size());
  std::string token;
  Base64Append(payload, token);
  return token;
}

std::optional<IteratorPosition> DecodeShardIterator(std::string_view token,
                                                    std::string_view secret) {
  if (token.size() > 1024) return std::nullopt;
  std::string raw(Base64MaxDecodedSize(token.size()), '\0');
  const std::optional<size_t> n = Base64Decode(token, raw.data());
  if (!n || *n < 1 + 24 + 2 + kMacBytes) return std::nullopt;
  raw.resize(*n);
  const size_t end = raw.size() - kMacBytes;
  const auto mac = Mac(std::string_view(raw).substr(0, end), secret);
  if (CRYPTO_memcmp(mac.data(), raw.data() + end, kMacBytes) != 0) return std::nullopt;
  if (static_cast<uint8_t>(raw[0]) != kVersion) return std::nullopt;
  IteratorPosition pos;
  pos.stream_uid = GetU64(raw, 1);
  pos.next_offset = GetU64(raw, 9);
  pos.issued_ms = static_cast<int64_t>(GetU64(raw, 17));
  size_t at = 25;
  auto name = GetString(raw, at, end);
  auto shard = name ? GetString(raw, at, end) : std::nullopt;
  if (!shard || at != end) return std::nullopt;
  pos.stream_name = std::move(*name);
  pos.shard_id = std::move(*shard);
  return pos;
}

}  // namespace tideline::server
