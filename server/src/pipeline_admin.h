// Pipeline administration over HTTP: POST /pipelines/NAME/reset. A plain function from the
// request to the response, testable without sockets; the session runs it off the I/O threads
// (a reset waits for the pipeline's delivery to stop).
#pragma once

#include <span>
#include <string_view>

#include "api_types.h"
#include "pipeline/pipeline.h"

namespace tideline::server {

// `body`: {"position": "TRIM_HORIZON" | "AT_SEQUENCE_NUMBER" | "AT_TIMESTAMP",
//          "sequenceNumber": "...",   (AT_SEQUENCE_NUMBER)
//          "timestampMs": 1700000000000}  (AT_TIMESTAMP)
// Answers the pipeline's status JSON after the reset, or a Kinesis-shaped error:
// ResourceNotFoundException (no such pipeline or stream), InvalidArgumentException (bad
// position or sequence number), SerializationException (malformed JSON).
ApiResponse HandlePipelineReset(std::span<pipeline::Pipeline* const> pipelines,
                                std::string_view name, std::string_view body);

}  // namespace tideline::server
