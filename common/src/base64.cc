#include "common/base64.h"

#include <array>
#include <cstdint>
#include <cstring>

namespace tideline {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr uint8_t kInvalid = 0xFF;

constexpr std::array<uint8_t, 256> MakeDecodeTable() {
  std::array<uint8_t, 256> t{};
  for (auto& v : t)
    v = kInvalid;
  for (uint8_t i = 0; i < 64; ++i)
    t[static_cast<uint8_t>(kAlphabet[i])] = i;
  return t;
}

constexpr std::array<uint8_t, 256> kDecode = MakeDecodeTable();

// The two output characters of every 12-bit input value.
constexpr std::array<char, 8192> MakePairTable() {
  std::array<char, 8192> t{};
  for (size_t v = 0; v < 4096; ++v) {
    t[2 * v] = kAlphabet[v >> 6];
    t[2 * v + 1] = kAlphabet[v & 63];
  }
  return t;
}

constexpr std::array<char, 8192> kPairs = MakePairTable();

}  // namespace

void Base64Encode(std::string_view in, char* o) {
  const auto* p = reinterpret_cast<const uint8_t*>(in.data());
  size_t i = 0;
  // Two table lookups of 12 bits each per 3 input bytes.
  for (; i + 3 <= in.size(); i += 3) {
    const uint32_t v = (uint32_t{p[i]} << 16) | (uint32_t{p[i + 1]} << 8) | p[i + 2];
    std::memcpy(o, &kPairs[2 * (v >> 12)], 2);
    std::memcpy(o + 2, &kPairs[2 * (v & 0xFFF)], 2);
    o += 4;
  }
  const size_t rest = in.size() - i;
  if (rest == 1) {
    const uint32_t v = uint32_t{p[i]} << 16;
    *o++ = kAlphabet[v >> 18];
    *o++ = kAlphabet[(v >> 12) & 63];
    *o++ = '=';
    *o++ = '=';
  } else if (rest == 2) {
    const uint32_t v = (uint32_t{p[i]} << 16) | (uint32_t{p[i + 1]} << 8);
    *o++ = kAlphabet[v >> 18];
    *o++ = kAlphabet[(v >> 12) & 63];
    *o++ = kAlphabet[(v >> 6) & 63];
    *o++ = '=';
  }
}

void Base64Append(std::string_view in, std::string& out) {
  const size_t start = out.size();
  out.resize(start + Base64EncodedSize(in.size()));
  Base64Encode(in, out.data() + start);
}

std::string Base64Encode(std::string_view in) {
  std::string out;
  Base64Append(in, out);
  return out;
}

std::optional<size_t> Base64Decode(std::string_view in, char* out) {
  if (in.size() % 4 != 0) return std::nullopt;
  if (in.empty()) return 0;
  const auto* p = reinterpret_cast<const uint8_t*>(in.data());
  size_t pad = 0;
  if (in[in.size() - 1] == '=') pad = in[in.size() - 2] == '=' ? 2 : 1;
  const size_t full = in.size() - (pad ? 4 : 0);  // groups without padding
  size_t n = 0;
  for (size_t i = 0; i < full; i += 4) {
    const uint8_t a = kDecode[p[i]], b = kDecode[p[i + 1]], c = kDecode[p[i + 2]],
                  d = kDecode[p[i + 3]];
    if ((a | b | c | d) & 0xC0) return std::nullopt;  // kInvalid has both bits set
    const uint32_t v = (uint32_t{a} << 18) | (uint32_t{b} << 12) | (uint32_t{c} << 6) | d;
    out[n++] = static_cast<char>(v >> 16);
    out[n++] = static_cast<char>((v >> 8) & 0xFF);
    out[n++] = static_cast<char>(v & 0xFF);
  }
  if (pad == 0) return n;
  const size_t i = full;
  const uint8_t a = kDecode[p[i]], b = kDecode[p[i + 1]];
  if (a == kInvalid || b == kInvalid) return std::nullopt;
  if (pad == 2) {
    if (b & 0x0F) return std::nullopt;  // non-zero unused bits
    out[n++] = static_cast<char>((a << 2) | (b >> 4));
    return n;
  }
  const uint8_t c = kDecode[p[i + 2]];
  if (c == kInvalid || (c & 0x03)) return std::nullopt;
  out[n++] = static_cast<char>((a << 2) | (b >> 4));
  out[n++] = static_cast<char>(((b & 0x0F) << 4) | (c >> 2));
  return n;
}

bool Base64IsValid(std::string_view in) {
  if (in.size() % 4 != 0) return false;
  if (in.empty()) return true;
  const auto* p = reinterpret_cast<const uint8_t*>(in.data());
  size_t pad = 0;
  if (in[in.size() - 1] == '=') pad = in[in.size() - 2] == '=' ? 2 : 1;
  const size_t full = in.size() - (pad ? 4 : 0);
  // 16 characters at a time, without a table: an alphabet test per lane, one branch per block.
  // (Blob members of requests are checked before their handler decodes them: this is on the
  // ingest path.)
  using Bytes = uint8_t __attribute__((vector_size(16)));
  using Mask = int8_t __attribute__((vector_size(16)));
  uint8_t acc = 0;
  size_t i = 0;
  for (; i + 16 <= full; i += 16) {
    Bytes c;
    std::memcpy(&c, p + i, sizeof(c));
    const Mask valid = (c - uint8_t{'A'} < uint8_t{26}) | (c - uint8_t{'a'} < uint8_t{26}) |
                       (c - uint8_t{'0'} < uint8_t{10}) | (c == uint8_t{'+'}) | (c == uint8_t{'/'});
    uint64_t halves[2];
    std::memcpy(halves, &valid, sizeof(halves));
    if ((halves[0] & halves[1]) != ~uint64_t{0}) return false;
  }
  for (; i < full; ++i)
    acc |= kDecode[p[i]];
  if (acc & 0xC0) return false;
  if (pad == 0) return true;
  const uint8_t a = kDecode[p[full]], b = kDecode[p[full + 1]];
  if (a == kInvalid || b == kInvalid) return false;
  if (pad == 2) return (b & 0x0F) == 0;
  const uint8_t c = kDecode[p[full + 2]];
  return c != kInvalid && (c & 0x03) == 0;
}

std::optional<std::string> Base64Decode(std::string_view in) {
  std::string out(Base64MaxDecodedSize(in.size()), '\0');
  const std::optional<size_t> n = Base64Decode(in, out.data());
  if (!n) return std::nullopt;
  out.resize(*n);
  return out;
}

}  // namespace tideline
