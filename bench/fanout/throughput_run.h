// Per-subscription throughput: a 1-shard stream is filled with options.prefill_mib MiB, then one
// registered consumer subscribes from TRIM_HORIZON and reads until it has caught up (every
// record put received and MillisBehindLatest 0): records/s and MiB/s of that catch-up.
#pragma once

#include <atomic>
#include <string>

#include "fanout_options.h"

namespace tideline::fanout {

// Runs the measurement; on success sets `json_line` to the result (one JSON object).
[[nodiscard]] bool RunThroughput(const FanoutOptions& options, const std::atomic<bool>& stop,
                                 std::string& json_line, std::string& error);

}  // namespace tideline::fanout
