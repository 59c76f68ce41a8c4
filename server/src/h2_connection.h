// One HTTP/2 server connection without I/O: nghttp2's server session and tideline's limits
// around it. Bytes from the client go in (Receive), bytes for the client come out (Output /
// OutputWritten), each complete and admitted request comes out through H2Config::on_request, and
// its answer goes back in with Respond. H2Session (h2_session.h) moves the bytes over a socket;
// tests and the fuzzer drive it directly.
//
// A request is what HTTP/1.1 makes of one (RouterRequest: method, :path as the target, every
// header in a boost::beast::http::fields with `host` from :authority, the body), so the Router,
// its SigV4 check and its region detection see no difference. A response carries the headers
// HTTP/1.1 sends (content-type, x-amzn-RequestId, x-amzn-ErrorType on errors, content-length),
// or a streamed body (ApiResponse::stream) written through a BodySink as DATA frames.
//
// Limits, each the HTTP/1.1 session's where one exists:
//   streams        SETTINGS_MAX_CONCURRENT_STREAMS kMaxConcurrentStreams; and at most
//                  kMaxConcurrentStreams requests in the handlers at once, counting those whose
//                  stream the client has reset meanwhile: beyond that the connection stops
//                  reading (WantsRead), so resetting streams never buys a client more work.
//   headers        SETTINGS_MAX_HEADER_LIST_SIZE kMaxHeaderListBytes (HTTP/1.1's header limit);
//                  a larger header list ends the connection (GOAWAY ENHANCE_YOUR_CALM) as soon
//                  as its decoded size passes the limit, so an HPACK bomb decodes into nothing.
//   bodies         the limit Router::Classify implies, as HTTP/1.1's (PutBodyLimit for
//                  PutRecord(s), kSmallBodyBytes for the rest): content-length over it is
//                  answered 413 at once; a body without content-length that grows over it too.
//                  Either way the stream is then reset (NO_ERROR) and the rest of its body
//                  dropped.
//   memory         each body is reserved from the shared in-flight budget when its header
//                  arrives (content-length, or the limit when there is none; 4 MiB for a
//                  GetRecords), released when its stream is gone and its handler has answered;
//                  refused with ProvisionedThroughputExceeded / LimitExceeded as HTTP/1.1 does.
//                  A response larger than its reservation, and streamed bytes queued, are
//                  reserved as well.
//   flow control   DATA is consumed (WINDOW_UPDATE) as the body takes it, never ahead; responses
//                  are sent within the client's windows; Output() hands out at most
//                  kOutputHighWater bytes at a time and WantsRead() is false while that much is
//                  unwritten, so a client that does not read stops being read.
//   floods         see h2_flood_guard.h for the budgets kept here, and MakeOptions() in the .cc
//                  for those nghttp2 keeps (ACK queue, SETTINGS entries, CONTINUATIONs,
//                  RST_STREAM rate, HPACK tables).
// Timeouts (H2Config::now, ServerOptions): the first request's header must be complete within
// header_timeout of the connection's start, and any header block (HEADERS + CONTINUATION) within
// header_timeout of its start; a request body must be complete within idle_timeout of its header;
// a response within idle_timeout of Respond (a streamed body: each Write taken within
// idle_timeout); a write handed out by Output() must be done within idle_timeout; and a
// connection without streams is closed idle_timeout after its last one. A late stream is reset
// (CANCEL); the rest end the connection.
//
// Not thread-safe: every call, and every callback it makes, is on one thread (the session's
// strand). Callbacks never run inside nghttp2: requests, `written` callbacks and
// BodyStream::Cancel are collected and run after nghttp2 returns.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/beast/http/fields.hpp>

#include "api_types.h"
#include "connection_limits.h"
#include "h2_flood_guard.h"
#include "record_size_ceiling.h"
#include "router.h"
#include "server/options.h"

struct nghttp2_session;

namespace tideline::server {

struct H2Config {
  using Clock = std::chrono::steady_clock;

  // Body limit, in-flight budget size and timeouts. Required; must outlive the connection.
  const ServerOptions* options = nullptr;
  // The shared in-flight budget and the counters /metrics shows. Required.
  std::shared_ptr<Limits> limits;
  // The largest record a stream takes (the PutRecord(s) body limit follows it). Default: null,
  // the 1 MiB default.
  const RecordSizeCeiling* record_ceiling = nullptr;
  // An overflow slot (over max_connections) answers one GET /health or /metrics, anything else
  // with 503, then ends the connection.
  ConnectionGate::Slot slot = ConnectionGate::Slot::kFull;
  // What a request's header implies: its body limit class, whether it is a probe
  // (Router::Classify). Required.
  std::function<RouteClass(boost::beast::http::verb, std::string_view target,
                           std::string_view amz_target)>
      classify;
  // A complete, admitted request of stream `stream_id`; its views and `headers` are valid during
  // the call. Respond(stream_id, ...) must follow exactly once, inline or later. Required.
  std::function<void(int32_t stream_id, RouterRequest request)> on_request;
  // Runs a task later on the connection's thread while the connection lives, or never; callable
  // from any thread. The BodySinks of streamed responses post through it. Required.
  std::function<void(std::function<void()>)> post;
  // Default: steady_clock::now
  std::function<Clock::time_point()> now;
  H2FloodLimits flood;
};

class H2Connection {
 public:
  using Clock = H2Config::Clock;

  static constexpr uint32_t kMaxConcurrentStreams = 100;
  // Beast's request header limit, which the HTTP/1.1 session keeps.
  static constexpr uint32_t kMaxHeaderListBytes = 8u << 10;
  // What a client may send on one stream, and on all together, before its data is consumed.
  static constexpr int32_t kStreamWindow = 1 << 20;
  static constexpr int32_t kConnectionWindow = 16 << 20;
  // Output() hands out up to this much (plus one frame) at a time.
  static constexpr size_t kOutputHighWater = 64u << 10;

  // Queues the server's SETTINGS. Throws std::bad_alloc when nghttp2 cannot allocate a session.
  explicit H2Connection(H2Config config);
  // Releases every reservation. Calls BodyStream::Cancel for bodies still being streamed (the
  // session is gone without Shutdown: the io_context is being destroyed).
  ~H2Connection();
  H2Connection(const H2Connection&) = delete;
  H2Connection& operator=(const H2Connection&) = delete;

  // Takes the next bytes from the client (the first ones start with the connection preface).
  void Receive(std::span<const uint8_t> bytes);
  // Answers the request of `stream_id` that on_request delivered. A stream the client has reset
  // meanwhile drops the answer.
  void Respond(int32_t stream_id, ApiResponse response);

  // The next bytes to send, at most about kOutputHighWater, empty when there is nothing. The
  // view stays valid until OutputWritten(), which must follow before Output() is called again.
  std::string_view Output();
  // The bytes of the last Output() were written.
  void OutputWritten();

  // True while the transport should read: the session takes input, less than kOutputHighWater
  // waits to be written, and the handlers hold fewer than kMaxConcurrentStreams requests.
  bool WantsRead() const;
  // True when the connection is over and nothing is left to write: close the transport.
  bool Finished() const;
  // The client closed its side (or the transport failed): nothing more will be read or written.
  // Cancels streamed bodies; answers still to come are dropped.
  void Shutdown();

  // When CheckDeadlines() next has something to do; Clock::time_point::max() when never.
  Clock::time_point NextDeadline() const;
  // Applies every timeout due at now(): resets late streams, ends a late connection.
  void CheckDeadlines();

  size_t streams() const { return streams_.size(); }

 private:
  struct Stream;
  struct Callbacks;  // nghttp2's callbacks, in the .cc
  class Sink;

  // Answers a request from its header alone when it may not go on; false then.
  bool Admit(Stream& s, bool has_body);
  void Reject(Stream& s, ApiResponse response);
  void SubmitResponse(Stream& s, ApiResponse response);
  void OnHeadersComplete(Stream& s, bool end_stream);
  void OnRequestComplete(Stream& s);
  // Sink side of a streamed body (posted to the connection's thread).
  void SinkWrite(int32_t stream_id, std::string bytes, std::function<void()> written);
  void SinkEnd(int32_t stream_id);
  // nghttp2 closed the stream (sent or received END_STREAM both ways, or a reset).
  void OnStreamClosed(int32_t stream_id);
  // Frees the stream once nghttp2 is done with it and no handler holds its request.
  void MaybeErase(std::map<int32_t, std::unique_ptr<Stream>>::iterator it);
  void ReleaseReservation(Stream& s);
  // GOAWAY with `error_code` after which the connection ends.
  void Terminate(uint32_t error_code);
  void Calm(std::string_view budget);
  // Runs the requests, `written` callbacks and cancellations collected during nghttp2 calls.
  void RunCollected();
  Stream* Find(int32_t stream_id);
  Clock::time_point Now() const { return config_.now(); }
  uint64_t BodyLimit(OperationKind kind) const;

  H2Config config_;
  nghttp2_session* session_ = nullptr;
  H2FloodGuard guard_;
  std::map<int32_t, std::unique_ptr<Stream>> streams_;
  std::string out_;
  bool writing_ = false;  // out_ was handed out and is not written yet
  Clock::time_point write_started_{};
  Clock::time_point started_;
  Clock::time_point idle_since_;       // when the last stream went away (or the start)
  bool first_request_seen_ = false;    // a header block was complete (the header timeout ends)
  Clock::time_point block_started_{};  // when the header block in progress began
  bool in_block_ = false;
  size_t dispatched_ = 0;     // requests handed to on_request and not answered yet
  bool served_one_ = false;   // overflow slot: the one request it may ask was answered
  bool terminating_ = false;  // GOAWAY that ends the connection was queued
  bool finished_ = false;     // nothing more can be done: close
  bool shut_down_ = false;
  // Collected during nghttp2 calls (see the header comment).
  std::vector<int32_t> ready_;
  std::vector<std::function<void()>> written_;
  std::vector<std::shared_ptr<BodyStream>> cancelled_;
};

}  // namespace tideline::server
