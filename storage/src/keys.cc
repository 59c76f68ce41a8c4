#include "keys.h"

#include <cstdio>

namespace tideline::storage::keys {
namespace {

void PutBE64(uint64_t v, char* out) {
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(static_cast<unsigned char>(v & 0xff));
    v >>= 8;
  }
}

uint64_t GetBE64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i)
    v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

constexpr std::string_view kShardIdPrefix = "shardId-";
constexpr size_t kShardIdDigits = 12;

}  // namespace

void EncodeRecordKey(uint64_t shard_uid, uint64_t offset, char out[kRecordKeySize]) {
  PutBE64(shard_uid, out);
  PutBE64(offset, out + 8);
}

std::string RecordKey(uint64_t shard_uid, uint64_t offset) {
  std::string key(kRecordKeySize, '\0');
  EncodeRecordKey(shard_uid, offset, key.data());
  return key;
}

std::optional<RecordKeyParts> DecodeRecordKey(std::string_view key) {
  if (key.size() != kRecordKeySize) return std::nullopt;
  return RecordKeyParts{GetBE64(key.data()), GetBE64(key.data() + 8)};
}

std::string StreamKey(std::string_view name) {
  std::string key(kStreamPrefix);
  key.append(name);
  return key;
}

std::string AttributesKey(std::string_view name) {
  std::string key(kAttributesPrefix);
  key.append(name);
  return key;
}

std::string CheckpointKey(std::string_view application, std::string_view stream,
                          std::string_view shard_id) {
  std::string key;
  key.reserve(application.size() + stream.size() + shard_id.size() + 2);
  key.append(application);
  key.push_back('\0');
  key.append(stream);
  key.push_back('\0');
  key.append(shard_id);
  return key;
}

std::optional<CheckpointKeyParts> DecodeCheckpointKey(std::string_view key) {
  const size_t a = key.find('\0');
  if (a == std::string_view::npos) return std::nullopt;
  const size_t b = key.find('\0', a + 1);
  if (b == std::string_view::npos) return std::nullopt;
  return CheckpointKeyParts{key.substr(0, a), key.substr(a + 1, b - a - 1), key.substr(b + 1)};
}

std::string EncodeU64(uint64_t v) {
  std::string out(8, '\0');
  PutBE64(v, out.data());
  return out;
}

std::optional<uint64_t> DecodeU64(std::string_view bytes) {
  if (bytes.size() != 8) return std::nullopt;
  return GetBE64(bytes.data());
}

std::string ShardIdForIndex(uint32_t index) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "shardId-%012u", index);
  return buf;
}

std::optional<uint32_t> ShardIndexFromId(std::string_view shard_id) {
  if (shard_id.size() != kShardIdPrefix.size() + kShardIdDigits) return std::nullopt;
  if (shard_id.substr(0, kShardIdPrefix.size()) != kShardIdPrefix) return std::nullopt;
  uint64_t v = 0;
  for (char c : shard_id.substr(kShardIdPrefix.size())) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v > UINT32_MAX) return std::nullopt;
  return static_cast<uint32_t>(v);
}

}  // namespace tideline::storage::keys
