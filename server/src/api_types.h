// Plain request/response values shared by the handlers, the dispatcher and the HTTP session.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace tideline::server {

struct ApiResponse {
  // HTTP status. Default: 200
  unsigned status = 200;
  // JSON body ("{}" for operations that return nothing).
  std::string body = "{}";
  // Kinesis `__type` of an error response; empty on success. Sent as x-amzn-ErrorType.
  std::string error_type;
  // For metrics: records and bytes (data + partition keys) written or read by the call.
  uint64_t records = 0;
  uint64_t bytes = 0;
};

// Receives the response of an asynchronous handler exactly once, on any thread.
using ResponseCallback = std::function<void(ApiResponse)>;

// Milliseconds since the Unix epoch; injectable so tests can move time.
using NowMsFn = std::function<int64_t()>;

}  // namespace tideline::server
