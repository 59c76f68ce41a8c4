// Pipeline::Reset's positions: which checkpoint each shard gets so that its reader resumes at
// the requested record.
#include "core/pipeline_impl.h"
#include "storage/sequence_number.h"

namespace tideline::pipeline {

Result<std::vector<storage::Store::ShardCheckpoint>> PipelineImpl::ResetCheckpoints(
    const storage::StreamPosition& position) const {
  const StreamName& stream = options_.source.stream;
  auto info = store_.DescribeStream(stream);
  if (!info.ok()) return info.status();
  const bool by_sequence_number = position.type == storage::StartingPosition::kAtSequenceNumber ||
                                  position.type == storage::StartingPosition::kAfterSequenceNumber;
  if (by_sequence_number) {
    if (!DecodeSequenceNumber(position.sequence_number)) {
      return Status::InvalidArgument("'" + position.sequence_number + "' is not a sequence number");
    }
  }
  std::vector<storage::Store::ShardCheckpoint> out;
  for (const storage::ShardInfo& shard : info->shards) {
    // Only the shard a sequence number belongs to moves.
    if (by_sequence_number && !OffsetInShard(shard.uid, position.sequence_number)) continue;
    auto offset = store_.ResolvePosition(stream, shard.id, position);
    if (!offset.ok()) return offset.status();
    // A checkpoint names the last record handled: the one before the position.
    out.push_back({shard.id, SequenceNumberOf(shard.uid, Offset(offset->get() - 1))});
  }
  if (out.empty()) {
    return Status::InvalidArgument("sequence number " + position.sequence_number +
                                   " belongs to no shard of stream " + stream.get());
  }
  return out;
}

}  // namespace tideline::pipeline
