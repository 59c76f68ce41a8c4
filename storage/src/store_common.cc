#include "store_common.h"

#include <algorithm>

#include "storage/sequence_number.h"

namespace tideline::storage {

Result<HashKey> RecordHashKey(const AppendRecord& record, size_t index) {
  if (record.explicit_hash_key.empty()) return HashKeyFromPartitionKey(record.partition_key);
  auto parsed = ParseHashKey(record.explicit_hash_key);
  if (!parsed) {
    return Status::InvalidArgument("record " + std::to_string(index) +
                                   ": ExplicitHashKey must be a decimal integer in "
                                   "[0, 2^128 - 1]");
  }
  return *parsed;
}

Result<Offset> ResolveSequenceNumber(StartingPosition position, std::string_view sequence_number,
                                     uint64_t shard_uid, const std::string& shard_id,
                                     const StreamName& stream, uint64_t last, uint64_t trim) {
  auto pos = DecodeSequenceNumber(sequence_number);
  if (!pos) {
    std::string msg = "'";
    msg.append(sequence_number.substr(0, 64)).append("' is not a valid sequence number");
    return Status::InvalidArgument(std::move(msg));
  }
  if (pos->shard_uid != shard_uid) {
    return Status::InvalidArgument("sequence number " + std::string(sequence_number) +
                                   " does not belong to " + shard_id + " of stream " +
                                   stream.get());
  }
  const bool at = position == StartingPosition::kAtSequenceNumber;
  // Offset 0 ("before the first record") is what a checkpoint holds before any record was
  // handled: valid after, never issued for at.
  if (pos->offset > last || (at && pos->offset == 0)) {
    return Status::InvalidArgument("sequence number " + std::string(sequence_number) +
                                   " was never issued in " + shard_id);
  }
  return Offset(std::max(at ? pos->offset : pos->offset + 1, trim));
}

}  // namespace tideline::storage
