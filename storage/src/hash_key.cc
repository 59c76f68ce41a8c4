#include "storage/hash_key.h"

#include <openssl/evp.h>

#include <algorithm>
#include <stdexcept>

namespace tideline {

HashKey HashKeyFromPartitionKey(std::string_view partition_key) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(partition_key.data(), partition_key.size(), digest, &len, EVP_md5(), nullptr) !=
          1 ||
      len != 16) {
    // MD5 is built into every OpenSSL we link; failing here means the library is broken.
    throw std::runtime_error("OpenSSL MD5 digest failed");
  }
  HashKey key = 0;
  for (unsigned int i = 0; i < 16; ++i)
    key = (key << 8) | digest[i];
  return key;
}

std::optional<HashKey> ParseHashKey(std::string_view decimal) {
  if (decimal.empty() || decimal.size() > 39) return std::nullopt;
  if (decimal.size() > 1 && decimal[0] == '0') return std::nullopt;
  HashKey value = 0;
  for (char c : decimal) {
    if (c < '0' || c > '9') return std::nullopt;
    const unsigned digit = static_cast<unsigned>(c - '0');
    if (value > (kMaxHashKey - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

std::string HashKeyToDecimal(HashKey key) {
  if (key == 0) return "0";
  std::string out;
  while (key != 0) {
    out.push_back(static_cast<char>('0' + static_cast<int>(key % 10)));
    key /= 10;
  }
  std::reverse(out.begin(), out.end());
  return out;
}

std::string HashKeyToBytes(HashKey key) {
  std::string out(16, '\0');
  for (int i = 15; i >= 0; --i) {
    out[static_cast<size_t>(i)] = static_cast<char>(static_cast<unsigned char>(key & 0xff));
    key >>= 8;
  }
  return out;
}

std::optional<HashKey> HashKeyFromBytes(std::string_view bytes) {
  if (bytes.size() != 16) return std::nullopt;
  HashKey key = 0;
  for (char c : bytes)
    key = (key << 8) | static_cast<unsigned char>(c);
  return key;
}

std::vector<HashKeyRange> EvenHashKeyRanges(uint32_t shard_count) {
  std::vector<HashKeyRange> ranges;
  if (shard_count == 0) return ranges;
  ranges.reserve(shard_count);
  if (shard_count == 1) {
    ranges.push_back({0, kMaxHashKey});
    return ranges;
  }
  // floor(2^128 / N) without representing 2^128: 2^128 = (2^128 - 1) + 1.
  const HashKey n = shard_count;
  HashKey step = kMaxHashKey / n;
  if (kMaxHashKey % n == n - 1) ++step;
  for (uint32_t i = 0; i < shard_count; ++i) {
    const HashKey start = step * i;
    const HashKey end = (i + 1 == shard_count) ? kMaxHashKey : step * (i + 1) - 1;
    ranges.push_back({start, end});
  }
  return ranges;
}

}  // namespace tideline
