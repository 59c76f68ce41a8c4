// Key encodings of the three column families (see storage/FORMAT.md). Private to storage.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tideline::storage::keys {

// `records`: shard_uid (u64 BE) | offset (u64 BE). 16 bytes, so byte order == (uid, offset) order.
inline constexpr size_t kRecordKeySize = 16;
void EncodeRecordKey(uint64_t shard_uid, uint64_t offset, char out[kRecordKeySize]);
std::string RecordKey(uint64_t shard_uid, uint64_t offset);
// (uid, offset) of a record key; nullopt when it is not 16 bytes.
struct RecordKeyParts {
  uint64_t shard_uid;
  uint64_t offset;
};
std::optional<RecordKeyParts> DecodeRecordKey(std::string_view key);

// `meta`.
inline constexpr std::string_view kStreamPrefix = "stream/";
inline constexpr std::string_view kIteratorSecretKey = "iterator_secret";
inline constexpr std::string_view kNextUidKey = "next_uid";
inline constexpr std::string_view kFormatVersionKey = "format_version";
inline constexpr std::string_view kAccountSettingsKey = "account_settings";
inline constexpr uint64_t kFormatVersion = 1;
std::string StreamKey(std::string_view name);
inline constexpr std::string_view kAttributesPrefix = "attrs/";
std::string AttributesKey(std::string_view name);

// `checkpoints`: application \0 stream \0 shard_id.
std::string CheckpointKey(std::string_view application, std::string_view stream,
                          std::string_view shard_id);
struct CheckpointKeyParts {
  std::string_view application;
  std::string_view stream;
  std::string_view shard_id;
};
std::optional<CheckpointKeyParts> DecodeCheckpointKey(std::string_view key);

std::string EncodeU64(uint64_t v);
std::optional<uint64_t> DecodeU64(std::string_view bytes);

// "shardId-000000000042" <-> 42.
std::string ShardIdForIndex(uint32_t index);
std::optional<uint32_t> ShardIndexFromId(std::string_view shard_id);

}  // namespace tideline::storage::keys
