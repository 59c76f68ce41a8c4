// 128-bit hash keys: how a record is routed to a shard.
//
// Kinesis maps a partition key to MD5(partition key) read as an unsigned big-endian 128-bit
// integer; a producer may override it with ExplicitHashKey (a decimal string in [0, 2^128 - 1]).
// A stream of N shards splits [0, 2^128 - 1] into N contiguous ranges as AWS does: shard i starts
// at i * floor(2^128 / N); the last shard ends at 2^128 - 1.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tideline {

__extension__ typedef unsigned __int128 HashKey;  // __extension__: GCC builtin under -Wpedantic

inline constexpr HashKey kMaxHashKey = ~static_cast<HashKey>(0);

// MD5 of the partition key as a big-endian unsigned 128-bit integer.
HashKey HashKeyFromPartitionKey(std::string_view partition_key);

// Parses a decimal string in [0, 2^128 - 1] with no sign, no leading zeros (except "0") and no
// spaces. Returns nullopt for anything else.
std::optional<HashKey> ParseHashKey(std::string_view decimal);

std::string HashKeyToDecimal(HashKey key);

// 16 big-endian bytes, the stored form.
std::string HashKeyToBytes(HashKey key);
std::optional<HashKey> HashKeyFromBytes(std::string_view bytes);

struct HashKeyRange {
  HashKey start;  // inclusive
  HashKey end;    // inclusive
};

// The N even ranges described above; `shard_count` must be >= 1.
std::vector<HashKeyRange> EvenHashKeyRanges(uint32_t shard_count);

}  // namespace tideline
