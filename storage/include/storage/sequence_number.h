// Sequence numbers: the public name of a record's position.
//
// A sequence number encodes (shard uid, offset) as the 128-bit value V = uid * 2^64 + offset and
// prints 10^39 + V in decimal. Every sequence number of the store is therefore exactly 40 digits
// long with no leading zero, so string order equals numeric order, it matches Kinesis's pattern
// 0|([1-9]\d{0,128}), and within a shard it strictly increases with the offset (commit order).
// Decoding checks the form and the range and never trusts its input.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/types.h"

namespace tideline {

inline constexpr size_t kSequenceNumberDigits = 40;

struct SequencePosition {
  uint64_t shard_uid = 0;
  uint64_t offset = 0;
  auto operator<=>(const SequencePosition&) const = default;
};

SequenceNumber EncodeSequenceNumber(SequencePosition pos);

// nullopt when `s` is not a sequence number this encoding produces (wrong length, non-digits,
// out of range). Whether the shard exists is the caller's question.
std::optional<SequencePosition> DecodeSequenceNumber(std::string_view s);

// The sequence number of record `offset` of shard `shard`: how code outside the store names a
// record (a checkpoint, a GetRecords answer). ShardInfo carries the uid.
SequenceNumber SequenceNumberOf(ShardUid shard, Offset offset);
// The offset `sequence_number` names when it is one of shard `shard`'s; nullopt when it is
// malformed or belongs to another shard (or an earlier stream of the same name).
std::optional<Offset> OffsetInShard(ShardUid shard, std::string_view sequence_number);

}  // namespace tideline
