// Rules both Store implementations (RocksDB and in-memory) apply the same way.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "storage/hash_key.h"
#include "storage/store.h"

namespace tideline::storage {

// The hash key that routes record `index` of an append: its ExplicitHashKey, else MD5 of its
// partition key. InvalidArgument naming the record for a malformed ExplicitHashKey.
Result<HashKey> RecordHashKey(const AppendRecord& record, size_t index);

// The offset AT_ / AFTER_SEQUENCE_NUMBER `sequence_number` names in the shard (`shard_uid`,
// `shard_id` of `stream`) whose highest offset is `last` and lowest kept is `trim`.
// InvalidArgument when it is malformed, another shard's, or was never issued.
Result<Offset> ResolveSequenceNumber(StartingPosition position, std::string_view sequence_number,
                                     uint64_t shard_uid, const std::string& shard_id,
                                     const StreamName& stream, uint64_t last, uint64_t trim);

// A new random Kinesis StreamId: 20 of [a-z0-9], '-', 3 of [a-z0-9].
std::string NewStreamId();
// The StreamId of a stream made before stream ids were stored: a function of its name and uid,
// so the same at every open.
std::string DerivedStreamId(std::string_view name, uint64_t uid);

}  // namespace tideline::storage
