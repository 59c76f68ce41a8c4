// Pre-built PutRecords / PutRecord requests, so the hot loop only writes bytes to a socket.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "options.h"

namespace tideline::loadgen {

struct PreparedRequest {
  // The complete HTTP request (headers and JSON body).
  std::string raw;
  // Where the body starts in `raw`, the operation, and the body's SHA-256 (hex) when the
  // endpoint signs: a signing generator sends a freshly signed header block with that body.
  size_t body_offset = 0;
  std::string_view operation;
  std::string body_hash;
  // Records in the request and the sum of their decoded data sizes.
  uint32_t records = 0;
  uint64_t payload_bytes = 0;
};

// Requests of `options.batch` records each (PutRecords) drawn from overlapping slices of one
// pool of random records, each record's data base64-encoded once, with random partition keys.
// At most options.pool_requests requests, fewer when they would exceed about 128 MiB.
[[nodiscard]] std::vector<PreparedRequest> BuildPutRecordsPool(const LoadgenOptions& options);

// Single-record PutRecord requests (options.pool_requests * 16 of them, at most 128 MiB).
[[nodiscard]] std::vector<PreparedRequest> BuildPutRecordPool(const LoadgenOptions& options);

}  // namespace tideline::loadgen
