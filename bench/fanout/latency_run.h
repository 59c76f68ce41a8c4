// Fan-out latency: a producer offers options.rate records/s into a 1-shard stream while
// options.consumers registered consumers are subscribed to the shard; each record's latency
// is measured from its PutRecords acknowledgement, and from its send, to its receipt by each
// consumer.
#pragma once

#include <atomic>
#include <string>

#include "fanout_options.h"

namespace tideline::fanout {

// Runs the measurement; on success sets `json_line` to the result (one JSON object) after
// printing a human summary to stderr.
[[nodiscard]] bool RunLatency(const FanoutOptions& options, const std::atomic<bool>& stop,
                              std::string& json_line, std::string& error);

}  // namespace tideline::fanout
