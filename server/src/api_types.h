// Plain request/response values shared by the handlers, the dispatcher and the HTTP session.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace tideline::server {

class BodyStream;

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
  // Set for a response whose body is produced over time (SubscribeToShard's event stream): the
  // session sends the status and headers, then the body `stream` writes through a BodySink
  // (HTTP/1.1: chunked transfer encoding; HTTP/2: DATA frames of the request's stream); `body`
  // is not sent.
  std::shared_ptr<BodyStream> stream;
};

// The session's side of a streamed response body; each HTTP session type implements it.
// Thread-safe: Write and End may be called from any thread (they post to the session's strand).
// They never run `written` or call into the producer before returning, so a producer may call
// them with its own lock held (the subscription hub does). After the session has called
// BodyStream::Cancel, both are ignored. A producer may drop its last reference to the sink with
// its lock held, so the sink's destructor must not block.
class BodySink {
 public:
  virtual ~BodySink() = default;
  // Queues `bytes` (one or more whole event-stream messages) to follow what was written before.
  // `written` runs once, on the session's strand, when the bytes have been handed to the socket
  // (HTTP/2: to the connection's send buffer, within its flow-control window) and the sink can
  // take more; it does not run when the stream is cancelled first. A producer keeps at most a
  // bounded amount queued by waiting for `written` (backpressure from a slow client).
  virtual void Write(std::string bytes, std::function<void()> written) = 0;
  // Ends the body after everything queued (HTTP/1.1: the last chunk, then the connection takes
  // its next request; HTTP/2: END_STREAM). Further calls to Write and End are ignored.
  virtual void End() = 0;
};

// The producer of a streamed response body (ApiResponse::stream).
class BodyStream {
 public:
  virtual ~BodyStream() = default;
  // Called once, on the session's strand, when the response's headers are queued: from here on
  // the producer writes its body through `sink` (from any thread) until it calls End.
  virtual void Start(std::shared_ptr<BodySink> sink) = 0;
  // Called at most once, on the session's strand, when the body can no longer be delivered: the
  // client reset the stream or closed the connection, a write failed or timed out, or the server
  // is stopping. The producer stops and lets go of the sink. Not called after the session has
  // sent what End ended.
  virtual void Cancel() = 0;
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
