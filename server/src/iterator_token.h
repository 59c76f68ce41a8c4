// Shard iterators: opaque, tamper-evident tokens naming a read position.
//
// Wire form: base64( version u8 | stream uid u64 | next offset u64 | issued ms i64 |
// stream name len u8 | stream name | shard id len u8 | shard id | HMAC-SHA256 of all before ).
// The HMAC key is Store::IteratorSecret(), so a token is valid only for the store that issued it
// and nobody can forge a position or an issue time.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tideline::server {

struct IteratorPosition {
  std::string stream_name;
  uint64_t stream_uid = 0;
  std::string shard_id;
  uint64_t next_offset = 0;  // first offset the next GetRecords returns
  int64_t issued_ms = 0;
};

std::string EncodeShardIterator(const IteratorPosition& pos, std::string_view secret);
// nullopt for anything that is not an untampered token of this version and key.
std::optional<IteratorPosition> DecodeShardIterator(std::string_view token,
                                                    std::string_view secret);

}  // namespace tideline::server
