// put-records and put-record modes: connections sending pre-built requests in a loop.
#pragma once

#include <atomic>

#include "options.h"
#include "run_stats.h"

namespace tideline::loadgen {

// Runs options.connections threads, each on its own keep-alive connection, sending requests
// from the pool (PutRecords, or PutRecord in kPutRecord mode) back to back until
// options.seconds pass or `stop` becomes true. A request counts as acknowledged on HTTP 200
// with FailedRecordCount 0 (PutRecords) or a SequenceNumber (PutRecord); latency is measured
// from the first byte written to the last byte of the response.
[[nodiscard]] RunSummary RunPut(const LoadgenOptions& options, const std::atomic<bool>& stop);

}  // namespace tideline::loadgen
