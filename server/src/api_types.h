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
  // The Kinesis API's JSON 1.1 for every operation and error; the admin routes answer text or
  // plain JSON.
  std::string content_type = "application/x-amz-json-1.1";
  // Kinesis `__type` of an error response; empty on success. Sent as x-amzn-ErrorType.
  std::string error_type;
  // For metrics: records and bytes (data + partition keys) written or read by the call.
  uint64_t records = 0;
  uint64_t bytes = 0;
};

// Receives the response of an asynchronous handler exactly once, on any thread.
using ResponseCallback = std::function<void(ApiResponse)>;

// Runs a task where a request's response is written (its HTTP session's strand); callable from
// any thread. Handlers that finish on another thread (the store's writer, the blocking pool)
// hand their response over through it.
using RespondOn = std::function<void(std::function<void()>)>;

// Milliseconds since the Unix epoch; injectable so tests can move time.
using NowMsFn = std::function<int64_t()>;

}  // namespace tideline::server
