// replay mode: read every shard from TRIM_HORIZON until caught up.
#pragma once

#include <atomic>

#include "options.h"
#include "run_stats.h"

namespace tideline::loadgen {

// Lists the stream's shards and reads them with min(connections, shards) threads, each
// taking whole shards: GetShardIterator TRIM_HORIZON, then GetRecords (Limit options.limit)
// until a response has no records and MillisBehindLatest 0 (or no NextShardIterator), or
// options.seconds pass, or `stop` becomes true. Payload bytes are the decoded data sizes.
// Returns false with `error` if the shards cannot be listed.
[[nodiscard]] bool RunReplay(const LoadgenOptions& options, const std::atomic<bool>& stop,
                             RunSummary& summary, std::string& error);

}  // namespace tideline::loadgen
