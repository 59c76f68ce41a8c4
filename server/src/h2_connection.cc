#include "h2_connection.h"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <new>

#include <fmt/format.h>

#include "buffer_pool.h"
#include "errors.h"
#include "logging.h"
#include "request_id.h"

namespace tideline::server {

namespace http = boost::beast::http;

namespace {

// Reserved for a GetRecords at admission (its body is tiny, its answer up to ~14 MB), as the
// HTTP/1.1 session does.
constexpr uint64_t kReadReserve = 4u << 20;

// The limits nghttp2 keeps itself, and what each stops:
//  - SETTINGS ACKs and PING ACKs queued for a client that sends SETTINGS or PING without reading
//    the answers (CVE-2019-9512, 9515): past kMaxOutboundAck the session fails with FLOODED.
//  - Entries in one SETTINGS frame (a huge SETTINGS frame is work per entry): kMaxSettings.
//  - CONTINUATION frames after one HEADERS (CVE-2024-27316 and kin, header blocks of endless
//    small frames): kMaxContinuations.
//  - RST_STREAM from the client: a token bucket of kResetBurst refilled at kResetRate a second
//    ("rapid reset", CVE-2023-44487), past which nghttp2 sends GOAWAY; the control-frame budget
//    of h2_flood_guard.h counts them first.
//  - HPACK: the decoder's dynamic table is the default 4 KiB SETTINGS_HEADER_TABLE_SIZE we
//    announce, the encoder's is capped at kHpackTable whatever the client announces; what a
//    header block decodes into is bounded by on_header (kMaxHeaderListBytes per stream).
//  - Closed streams are not kept for the RFC 7540 priority tree, which we turn off
//    (SETTINGS_NO_RFC7540_PRIORITIES): PRIORITY frames change nothing and cost no memory.
constexpr size_t kMaxOutboundAck = 1000;
constexpr size_t kMaxSettings = 32;
constexpr size_t kMaxContinuations = 8;
constexpr uint64_t kResetBurst = 200;
constexpr uint64_t kResetRate = 33;
constexpr size_t kHpackTable = 4096;

// Writes go out by at most this much at a time beyond kOutputHighWater; a buffer grown past it
// by a large response is given back once written, so idle connections stay small.
constexpr size_t kIdleOutputCapacity = 16u << 10;

struct OptionDeleter {
  void operator()(nghttp2_option* o) const { nghttp2_option_del(o); }
};
struct CallbacksDeleter {
  void operator()(nghttp2_session_callbacks* c) const { nghttp2_session_callbacks_del(c); }
};

std::string_view View(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

std::string_view View(boost::beast::string_view v) {
  return {v.data(), v.size()};
}

std::string_view HeaderValue(const http::fields& fields, std::string_view name) {
  const auto it = fields.find(boost::beast::string_view(name.data(), name.size()));
  return it == fields.end() ? std::string_view() : View(it->value());
}

// Names are literals (no copy needed); values are copied by nghttp2. A value that differs in
// every response (the request id, the length) is not worth a place in the HPACK table.
nghttp2_nv Nv(std::string_view name, std::string_view value, bool unique = false) {
  return {reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
          reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
          static_cast<uint8_t>(NGHTTP2_NV_FLAG_NO_COPY_NAME |
                               (unique ? NGHTTP2_NV_FLAG_NO_INDEX : NGHTTP2_NV_FLAG_NONE))};
}

}  // namespace

struct H2Connection::Stream {
  explicit Stream(int32_t stream_id) : id(stream_id) {}
  ~Stream() {
    if (gauge != nullptr) gauge->End();
  }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  struct Chunk {
    std::string bytes;
    size_t taken = 0;
    std::function<void()> written;
  };

  const int32_t id;
  // The request.
  std::string method;
  std::string path;
  std::string authority;
  http::fields headers;
  size_t header_bytes = 0;
  std::shared_ptr<std::string> body;
  uint64_t body_limit = 0;
  uint64_t reserved = 0;          // bytes of the in-flight budget this stream holds
  bool request_complete = false;  // END_STREAM received
  bool dispatched = false;        // handed to on_request, no Respond yet
  bool answered = false;          // a response was submitted
  bool refused = false;           // answered before its body was read: DATA is dropped
  bool closed = false;            // nghttp2 closed it
  // The response.
  std::string response_body;
  size_t sent = 0;
  std::shared_ptr<BodyStream> producer;  // a streamed body, until it ended or was cancelled
  // Set while a streamed body counts in Limits::streams (from its response to the stream's
  // end), so that Server::Stop waits for the END_STREAM of every ended subscription as it does
  // for HTTP/1.1's last chunk.
  StreamGauge* gauge = nullptr;
  std::deque<Chunk> queued;
  uint64_t queued_bytes = 0;  // reserved from the budget until nghttp2 takes them
  bool ended = false;         // the producer called End
  bool deferred = false;      // the data source returned NGHTTP2_ERR_DEFERRED
  bool eof_sent = false;      // the last DATA frame (END_STREAM) was produced
  Clock::time_point deadline = Clock::time_point::max();
};

// The BodySink of one streamed response: posts to the connection's thread, where the stream is
// looked up by id (ids are never reused on a connection), so a sink outliving its stream or its
// connection's requests is harmless (H2Config::post runs nothing once the connection is gone).
class H2Connection::Sink final : public BodySink {
 public:
  Sink(std::function<void(std::function<void()>)> post, H2Connection* connection, int32_t id)
      : post_(std::move(post)), connection_(connection), id_(id) {}

  void Write(std::string bytes, std::function<void()> written) override {
    post_([c = connection_, id = id_, bytes = std::move(bytes),
           written = std::move(written)]() mutable {
      c->SinkWrite(id, std::move(bytes), std::move(written));
    });
  }
  void End() override {
    post_([c = connection_, id = id_] { c->SinkEnd(id); });
  }

 private:
  const std::function<void(std::function<void()>)> post_;
  H2Connection* const connection_;
  const int32_t id_;
};

// nghttp2's callbacks; `user_data` is the connection.
struct H2Connection::Callbacks {
  static H2Connection& Self(void* user_data) { return *static_cast<H2Connection*>(user_data); }

  static int OnBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    H2Connection& c = Self(user_data);
    c.streams_.emplace(frame->hd.stream_id, std::make_unique<Stream>(frame->hd.stream_id));
    c.config_.limits->counters.h2_streams.fetch_add(1, std::memory_order_relaxed);
    return 0;
  }

  static int OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                      size_t name_len, const uint8_t* value, size_t value_len, uint8_t /*flags*/,
                      void* user_data) {
    H2Connection& c = Self(user_data);
    Stream* s = c.Find(frame->hd.stream_id);
    if (s == nullptr || frame->hd.type != NGHTTP2_HEADERS) return 0;
    // RFC 9113 6.5.2's size: each field's name and value plus 32. Over the limit the connection
    // ends, as an HTTP/1.1 connection whose header is over Beast's limit does. At once, and not
    // by answering 431 after the block: nghttp2 checks every field it decodes before it calls
    // here, and an HPACK bomb (one-byte references to a 3 KB table entry, thousands to a frame)
    // decodes into gigabytes to check. Ending the session stops the decoding.
    s->header_bytes += name_len + value_len + 32;
    if (s->header_bytes > kMaxHeaderListBytes) {
      c.Calm("header bytes");
      return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    if (frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    const std::string_view n = View(name, name_len);
    const std::string_view v = View(value, value_len);
    if (n == ":method") {
      s->method = v;
    } else if (n == ":path") {
      s->path = v;
    } else if (n == ":authority") {
      s->authority = v;
    } else if (!n.starts_with(':')) {
      s->headers.insert(boost::beast::string_view(n.data(), n.size()),
                        boost::beast::string_view(v.data(), v.size()));
    }
    return 0;
  }

  static int OnFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    H2Connection& c = Self(user_data);
    const bool end_stream = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    switch (frame->hd.type) {
      case NGHTTP2_HEADERS: {
        Stream* s = c.Find(frame->hd.stream_id);
        if (s == nullptr) return 0;
        if (frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
          c.OnHeadersComplete(*s, end_stream);
        } else if (end_stream) {
          c.OnRequestComplete(*s);  // trailers end the request; their fields are not used
        }
        return 0;
      }
      case NGHTTP2_DATA:
        if (end_stream) {
          if (Stream* s = c.Find(frame->hd.stream_id)) c.OnRequestComplete(*s);
        }
        return 0;
      case NGHTTP2_RST_STREAM:
        c.config_.limits->counters.h2_streams_reset.fetch_add(1, std::memory_order_relaxed);
        return 0;
      default:
        return 0;
    }
  }

  static int OnDataChunk(nghttp2_session* session, uint8_t /*flags*/, int32_t stream_id,
                         const uint8_t* data, size_t len, void* user_data) {
    H2Connection& c = Self(user_data);
    Stream* s = c.Find(stream_id);
    if (s != nullptr && !s->refused && !s->answered && s->body) {
      if (s->body->size() + len > s->body_limit) {
        // No content-length (or nghttp2 would have stopped it): the body grew over its limit.
        c.config_.limits->counters.rejected_body_size.fetch_add(1, std::memory_order_relaxed);
        c.Reject(*s, MakeError(ApiErrorType::kRequestTooLarge,
                               fmt::format("Request body exceeds the limit of {} bytes.",
                                           s->body_limit)));
      } else {
        s->body->append(reinterpret_cast<const char*>(data), len);
      }
    }
    // The body took the bytes (or they are dropped with a refused stream): the client may send
    // as much again. Only the connection's window moves for a stream nghttp2 already closed.
    const int rv = nghttp2_session_consume(session, stream_id, len);
    return nghttp2_is_fatal(rv) ? NGHTTP2_ERR_CALLBACK_FAILURE : 0;
  }

  static int OnStreamClose(nghttp2_session*, int32_t stream_id, uint32_t /*error_code*/,
                           void* user_data) {
    Self(user_data).OnStreamClosed(stream_id);
    return 0;
  }

  static int OnFrameSend(nghttp2_session* session, const nghttp2_frame* frame, void* user_data) {
    H2Connection& c = Self(user_data);
    LimitCounters& counters = c.config_.limits->counters;
    switch (frame->hd.type) {
      case NGHTTP2_DATA:
        c.guard_.OnDataFrameSent();
        break;
      case NGHTTP2_GOAWAY:
        // nghttp2's own, for a protocol error (ours, ENHANCE_YOUR_CALM, is counted by Calm).
        if (frame->goaway.error_code != NGHTTP2_NO_ERROR &&
            frame->goaway.error_code != NGHTTP2_ENHANCE_YOUR_CALM) {
          counters.h2_protocol_errors.fetch_add(1, std::memory_order_relaxed);
        }
        return 0;
      default:
        break;
    }
    if ((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) == 0) return 0;
    Stream* s = c.Find(frame->hd.stream_id);
    if (s != nullptr && !s->request_complete) {
      // Answered before the client finished its body (413, throttled): RFC 9113 8.1 lets the
      // server stop the upload without an error.
      const int rv = nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_NO_ERROR);
      if (nghttp2_is_fatal(rv)) return NGHTTP2_ERR_CALLBACK_FAILURE;
    }
    return 0;
  }

  // The body of a buffered response.
  static ssize_t ReadBody(nghttp2_session*, int32_t, uint8_t* buf, size_t length,
                          uint32_t* data_flags, nghttp2_data_source* source, void*) {
    Stream& s = *static_cast<Stream*>(source->ptr);
    const size_t n = std::min(length, s.response_body.size() - s.sent);
    std::memcpy(buf, s.response_body.data() + s.sent, n);
    s.sent += n;
    if (s.sent == s.response_body.size()) *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    return static_cast<ssize_t>(n);
  }

  // The body of a streamed response: what the producer queued, or DEFERRED until it writes.
  static ssize_t ReadStreamed(nghttp2_session*, int32_t, uint8_t* buf, size_t length,
                              uint32_t* data_flags, nghttp2_data_source* source, void* user_data) {
    H2Connection& c = Self(user_data);
    Stream& s = *static_cast<Stream*>(source->ptr);
    size_t n = 0;
    while (n < length && !s.queued.empty()) {
      Stream::Chunk& chunk = s.queued.front();
      const size_t k = std::min(length - n, chunk.bytes.size() - chunk.taken);
      std::memcpy(buf + n, chunk.bytes.data() + chunk.taken, k);
      chunk.taken += k;
      n += k;
      if (chunk.taken < chunk.bytes.size()) break;
      c.config_.limits->budget.Release(chunk.bytes.size());
      s.queued_bytes -= chunk.bytes.size();
      if (chunk.written) c.written_.push_back(std::move(chunk.written));
      s.queued.pop_front();
    }
    // Each Write must be taken within idle_timeout; taking bytes is progress.
    s.deadline =
        s.queued.empty() ? Clock::time_point::max() : c.Now() + c.config_.options->idle_timeout;
    if (s.queued.empty() && s.ended) {
      *data_flags |= NGHTTP2_DATA_FLAG_EOF;
      s.eof_sent = true;
      return static_cast<ssize_t>(n);
    }
    if (n == 0) {
      s.deferred = true;
      return NGHTTP2_ERR_DEFERRED;
    }
    return static_cast<ssize_t>(n);
  }
};

namespace {

std::unique_ptr<nghttp2_option, OptionDeleter> MakeOptions() {
  nghttp2_option* raw = nullptr;
  if (nghttp2_option_new(&raw) != 0) throw std::bad_alloc();
  std::unique_ptr<nghttp2_option, OptionDeleter> option(raw);
  // Flow control follows the body: DATA is consumed as the body takes it (OnDataChunk).
  nghttp2_option_set_no_auto_window_update(raw, 1);
  nghttp2_option_set_max_outbound_ack(raw, kMaxOutboundAck);
  nghttp2_option_set_max_settings(raw, kMaxSettings);
  nghttp2_option_set_max_continuations(raw, kMaxContinuations);
  nghttp2_option_set_stream_reset_rate_limit(raw, kResetBurst, kResetRate);
  nghttp2_option_set_max_deflate_dynamic_table_size(raw, kHpackTable);
  nghttp2_option_set_no_closed_streams(raw, 1);
  return option;
}

}  // namespace

H2Connection::H2Connection(H2Config config)
    : config_(std::move(config)),
      guard_(config_.flood, config_.now ? config_.now() : Clock::now()) {
  if (!config_.now) config_.now = [] { return Clock::now(); };
  started_ = Now();
  idle_since_ = started_;
  nghttp2_session_callbacks* raw = nullptr;
  if (nghttp2_session_callbacks_new(&raw) != 0) throw std::bad_alloc();
  std::unique_ptr<nghttp2_session_callbacks, CallbacksDeleter> callbacks(raw);
  nghttp2_session_callbacks_set_on_begin_headers_callback(raw, &Callbacks::OnBeginHeaders);
  nghttp2_session_callbacks_set_on_header_callback(raw, &Callbacks::OnHeader);
  nghttp2_session_callbacks_set_on_frame_recv_callback(raw, &Callbacks::OnFrameRecv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(raw, &Callbacks::OnDataChunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(raw, &Callbacks::OnStreamClose);
  nghttp2_session_callbacks_set_on_frame_send_callback(raw, &Callbacks::OnFrameSend);
  const auto option = MakeOptions();
  if (nghttp2_session_server_new2(&session_, raw, this, option.get()) != 0) {
    throw std::bad_alloc();
  }
  config_.limits->counters.h2_connections.fetch_add(1, std::memory_order_relaxed);
  const nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, kMaxConcurrentStreams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, static_cast<uint32_t>(kStreamWindow)},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, kMaxHeaderListBytes},
      {NGHTTP2_SETTINGS_HEADER_TABLE_SIZE, static_cast<uint32_t>(kHpackTable)},
      {NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES, 1},
  };
  // Neither can fail on a new session but for memory.
  if (nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, std::size(settings)) != 0 ||
      nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0, kConnectionWindow) !=
          0) {
    nghttp2_session_del(session_);
    throw std::bad_alloc();
  }
}

H2Connection::~H2Connection() {
  // Only the shared Limits may be touched besides our own state (see HttpSession's destructor).
  auto streams = std::move(streams_);
  streams_.clear();  // callbacks from nghttp2_session_del find nothing
  for (auto& [id, s] : streams) {
    if (s->producer && !s->eof_sent) s->producer->Cancel();
    ReleaseReservation(*s);
  }
  nghttp2_session_del(session_);
  config_.limits->counters.h2_connections_closed.fetch_add(1, std::memory_order_relaxed);
}

H2Connection::Stream* H2Connection::Find(int32_t stream_id) {
  const auto it = streams_.find(stream_id);
  return it == streams_.end() ? nullptr : it->second.get();
}

uint64_t H2Connection::BodyLimit(OperationKind kind) const {
  const ServerOptions& o = *config_.options;
  if (kind != OperationKind::kPut) return std::min<uint64_t>(kSmallBodyBytes, o.max_body_bytes);
  return PutBodyLimit(
      o.max_body_bytes,
      config_.record_ceiling ? config_.record_ceiling->kib() : storage::kDefaultMaxRecordSizeKiB,
      o.max_inflight_bytes);
}

void H2Connection::Receive(std::span<const uint8_t> bytes) {
  if (finished_ || terminating_ || shut_down_ || bytes.empty()) return;
  const Clock::time_point now = Now();
  const std::string_view exceeded = guard_.Scan(bytes, now);
  if (!exceeded.empty()) {
    Calm(exceeded);
    return;
  }
  if (guard_.in_header_block() != in_block_) {
    in_block_ = guard_.in_header_block();
    block_started_ = now;
  }
  const ssize_t rv = nghttp2_session_mem_recv(session_, bytes.data(), bytes.size());
  if (rv < 0) {
    // Every error mem_recv returns is fatal: the session cannot even say GOAWAY.
    LimitCounters& counters = config_.limits->counters;
    (rv == NGHTTP2_ERR_FLOODED || rv == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS
         ? counters.h2_calm
         : counters.h2_protocol_errors)
        .fetch_add(1, std::memory_order_relaxed);
    Log().debug("HTTP/2 connection ended: {}", nghttp2_strerror(static_cast<int>(rv)));
    finished_ = true;
  }
  RunCollected();
}

void H2Connection::OnHeadersComplete(Stream& s, bool end_stream) {
  first_request_seen_ = true;
  // SigV4 signs `host`; HTTP/2 carries it as :authority.
  if (!s.authority.empty() && s.headers.find(http::field::host) == s.headers.end()) {
    s.headers.set(http::field::host,
                  boost::beast::string_view(s.authority.data(), s.authority.size()));
  }
  if (end_stream) s.request_complete = true;
  if (!Admit(s, !end_stream)) return;
  if (end_stream) {
    OnRequestComplete(s);
    return;
  }
  // The body must be complete within idle_timeout, as HTTP/1.1's.
  s.deadline = Now() + config_.options->idle_timeout;
  if (boost::beast::iequals(s.headers[http::field::expect], "100-continue")) {
    const nghttp2_nv nv = Nv(":status", "100");
    const int rv =
        nghttp2_submit_headers(session_, NGHTTP2_FLAG_NONE, s.id, nullptr, &nv, 1, nullptr);
    if (nghttp2_is_fatal(rv)) finished_ = true;
  }
}

bool H2Connection::Admit(Stream& s, bool has_body) {
  LimitCounters& counters = config_.limits->counters;
  const http::verb verb = http::string_to_verb(s.method);
  const RouteClass route = config_.classify(verb, s.path, HeaderValue(s.headers, "x-amz-target"));
  if (config_.slot == ConnectionGate::Slot::kOverflow && (!route.probe || served_one_)) {
    counters.rejected_overflow.fetch_add(1, std::memory_order_relaxed);
    Reject(s, MakeError(ApiErrorType::kServiceUnavailable,
                        fmt::format("Too many connections (server.max_connections is {}); retry "
                                    "later.",
                                    config_.limits->gate.max())));
    return false;
  }
  served_one_ = true;
  if (!has_body) return true;  // nothing to limit or reserve
  s.body_limit = BodyLimit(route.kind);
  std::optional<uint64_t> length;
  const std::string_view cl = HeaderValue(s.headers, "content-length");
  uint64_t parsed = 0;
  // nghttp2 has checked that a content-length is a number and will match the DATA frames.
  if (!cl.empty() && std::from_chars(cl.data(), cl.data() + cl.size(), parsed).ec == std::errc()) {
    length = parsed;
  }
  if (length && *length > s.body_limit) {
    counters.rejected_body_size.fetch_add(1, std::memory_order_relaxed);
    Reject(s, MakeError(ApiErrorType::kRequestTooLarge,
                        fmt::format("Request body exceeds the limit of {} bytes.", s.body_limit)));
    return false;
  }
  uint64_t want = length ? *length : s.body_limit;
  if (route.kind == OperationKind::kRead) want = std::max(want, kReadReserve);
  if (!config_.limits->budget.TryReserve(want)) {
    counters.rejected_inflight.fetch_add(1, std::memory_order_relaxed);
    const std::string message = fmt::format(
        "Rate exceeded: the server holds its limit of {} request bytes in flight "
        "(server.max_inflight_bytes); retry later.",
        config_.limits->budget.capacity());
    Reject(s, MakeError(route.kind == OperationKind::kOther
                            ? ApiErrorType::kLimitExceeded
                            : ApiErrorType::kProvisionedThroughputExceeded,
                        message));
    return false;
  }
  s.reserved = want;
  s.body = std::make_shared<std::string>();
  if (length) s.body->reserve(*length);
  return true;
}

void H2Connection::Reject(Stream& s, ApiResponse response) {
  s.refused = true;
  s.body.reset();
  SubmitResponse(s, std::move(response));
}

void H2Connection::OnRequestComplete(Stream& s) {
  s.request_complete = true;
  s.deadline = Clock::time_point::max();  // the handler's time is not limited, as in HTTP/1.1
  if (s.refused || s.answered) return;
  ready_.push_back(s.id);
}

void H2Connection::Respond(int32_t stream_id, ApiResponse response) {
  const auto it = streams_.find(stream_id);
  if (it == streams_.end()) return;  // not a request we delivered
  Stream& s = *it->second;
  if (!s.dispatched) return;  // answered twice: the first answer stands
  s.dispatched = false;
  --dispatched_;
  if (s.closed || shut_down_ || finished_) {
    // The client reset the stream or left: the answer has nowhere to go.
    if (response.stream) response.stream->Cancel();
    GiveResponseBuffer(std::move(response.body));
    MaybeErase(it);
    return;
  }
  SubmitResponse(s, std::move(response));
}

void H2Connection::SubmitResponse(Stream& s, ApiResponse response) {
  s.answered = true;
  const std::string status = std::to_string(response.status);
  const std::string request_id = NewRequestId();
  const std::string length = std::to_string(response.body.size());
  nghttp2_nv nva[5];
  size_t n = 0;
  nva[n++] = Nv(":status", status);
  nva[n++] = Nv("content-type", response.content_type);
  nva[n++] = Nv("x-amzn-requestid", request_id, /*unique=*/true);
  if (!response.error_type.empty()) nva[n++] = Nv("x-amzn-errortype", response.error_type);
  nghttp2_data_provider provider{};
  provider.source.ptr = &s;
  const nghttp2_data_provider* body = nullptr;
  if (response.stream) {
    s.producer = std::move(response.stream);
    s.gauge = &config_.limits->streams;
    s.gauge->Begin();
    provider.read_callback = &Callbacks::ReadStreamed;
    body = &provider;
    GiveResponseBuffer(std::move(response.body));
  } else {
    nva[n++] = Nv("content-length", length, /*unique=*/true);
    // A response is memory too (a GetRecords answer is up to ~14 MB): the reservation covers
    // it until it is sent. Forced, because the work is done and the answer must go out.
    if (response.body.size() > s.reserved) {
      config_.limits->budget.ForceReserve(response.body.size() - s.reserved);
      s.reserved = response.body.size();
    }
    s.response_body = std::move(response.body);
    provider.read_callback = &Callbacks::ReadBody;
    // A HEAD request's answer has its length but no body (RFC 9110 9.3.2).
    if (!s.response_body.empty() && s.method != "HEAD") body = &provider;
    // It must be sent within idle_timeout, as HTTP/1.1's write.
    s.deadline = Now() + config_.options->idle_timeout;
  }
  const int rv = nghttp2_submit_response(session_, s.id, nva, n, body);
  if (rv != 0) {
    // The stream is gone in nghttp2 (reset in the same read) or memory ran out: nothing to send.
    Log().debug("HTTP/2 stream {}: response not submitted: {}", s.id, nghttp2_strerror(rv));
    if (nghttp2_is_fatal(rv)) finished_ = true;
    if (s.producer) std::exchange(s.producer, nullptr)->Cancel();
    return;
  }
  if (config_.slot == ConnectionGate::Slot::kOverflow) {
    // An overflow connection makes room after its one answer: streams after this one are not
    // taken.
    const int goaway = nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE,
                                             nghttp2_session_get_last_proc_stream_id(session_),
                                             NGHTTP2_NO_ERROR, nullptr, 0);
    if (nghttp2_is_fatal(goaway)) finished_ = true;
  }
  if (s.producer) {
    // Start may write at once; the sink posts, so nothing re-enters here.
    s.producer->Start(std::make_shared<Sink>(config_.post, this, s.id));
  }
}

void H2Connection::SinkWrite(int32_t stream_id, std::string bytes, std::function<void()> written) {
  Stream* s = Find(stream_id);
  // After End, a cancellation or the stream's end, writes are ignored (BodySink's contract).
  if (s == nullptr || !s->producer || s->ended || s->closed || shut_down_) return;
  if (bytes.empty()) {
    if (written) written();
    return;
  }
  if (s->queued.empty()) s->deadline = Now() + config_.options->idle_timeout;
  config_.limits->budget.ForceReserve(bytes.size());
  s->queued_bytes += bytes.size();
  s->queued.push_back({std::move(bytes), 0, std::move(written)});
  if (s->deferred) {
    s->deferred = false;
    const int rv = nghttp2_session_resume_data(session_, stream_id);
    if (nghttp2_is_fatal(rv)) finished_ = true;
  }
}

void H2Connection::SinkEnd(int32_t stream_id) {
  Stream* s = Find(stream_id);
  if (s == nullptr || !s->producer || s->ended || s->closed || shut_down_) return;
  s->ended = true;
  if (s->deferred) {
    s->deferred = false;
    const int rv = nghttp2_session_resume_data(session_, stream_id);
    if (nghttp2_is_fatal(rv)) finished_ = true;
  }
}

void H2Connection::OnStreamClosed(int32_t stream_id) {
  const auto it = streams_.find(stream_id);
  if (it == streams_.end()) return;
  Stream& s = *it->second;
  s.closed = true;
  config_.limits->counters.h2_streams_closed.fetch_add(1, std::memory_order_relaxed);
  if (s.producer) {
    // Closed before the last DATA frame: reset by the client, timed out, or the connection is
    // ending. Cancelled after nghttp2 returns.
    if (!s.eof_sent) cancelled_.push_back(s.producer);
    s.producer.reset();
  }
  MaybeErase(it);
}

void H2Connection::MaybeErase(std::map<int32_t, std::unique_ptr<Stream>>::iterator it) {
  Stream& s = *it->second;
  if (!s.closed || s.dispatched) return;
  ReleaseReservation(s);
  GiveResponseBuffer(std::move(s.response_body));
  streams_.erase(it);
  if (streams_.empty()) idle_since_ = Now();
}

void H2Connection::ReleaseReservation(Stream& s) {
  const uint64_t n = s.reserved + s.queued_bytes;
  if (n > 0) config_.limits->budget.Release(n);
  s.reserved = 0;
  s.queued_bytes = 0;
  s.queued.clear();
}

std::string_view H2Connection::Output() {
  if (writing_ || finished_) return {};
  while (out_.size() < kOutputHighWater) {
    const uint8_t* data = nullptr;
    const ssize_t n = nghttp2_session_mem_send(session_, &data);
    if (n < 0) {
      Log().debug("HTTP/2 connection ended: {}", nghttp2_strerror(static_cast<int>(n)));
      finished_ = true;
      break;
    }
    if (n == 0) break;
    out_.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
  }
  RunCollected();
  if (out_.empty() || finished_) return {};
  writing_ = true;
  write_started_ = Now();
  return out_;
}

void H2Connection::OutputWritten() {
  writing_ = false;
  if (out_.capacity() > kIdleOutputCapacity) {
    out_ = std::string();
  } else {
    out_.clear();
  }
}

bool H2Connection::WantsRead() const {
  return !finished_ && !terminating_ && !shut_down_ && nghttp2_session_want_read(session_) != 0 &&
         out_.size() < kOutputHighWater && dispatched_ < kMaxConcurrentStreams;
}

bool H2Connection::Finished() const {
  if (finished_ || shut_down_) return true;
  return !writing_ && nghttp2_session_want_read(session_) == 0 &&
         nghttp2_session_want_write(session_) == 0;
}

void H2Connection::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  for (auto it = streams_.begin(); it != streams_.end();) {
    Stream& s = *it->second;
    if (s.producer && !s.eof_sent) cancelled_.push_back(s.producer);
    s.producer.reset();
    s.closed = true;
    if (s.dispatched) {
      ++it;  // kept until its handler answers (Respond drops the answer)
      continue;
    }
    ReleaseReservation(s);
    GiveResponseBuffer(std::move(s.response_body));
    it = streams_.erase(it);
  }
  RunCollected();
}

void H2Connection::Terminate(uint32_t error_code) {
  if (terminating_ || finished_) return;
  terminating_ = true;
  // After the GOAWAY is written nghttp2 wants nothing more: Finished() turns true.
  if (nghttp2_session_terminate_session(session_, error_code) != 0) finished_ = true;
}

void H2Connection::Calm(std::string_view budget) {
  config_.limits->counters.h2_calm.fetch_add(1, std::memory_order_relaxed);
  Log().debug("HTTP/2 connection ended with ENHANCE_YOUR_CALM: too many {}", budget);
  Terminate(NGHTTP2_ENHANCE_YOUR_CALM);
}

void H2Connection::RunCollected() {
  if (!ready_.empty()) {
    std::vector<int32_t> ready;
    ready.swap(ready_);
    for (const int32_t id : ready) {
      Stream* s = Find(id);
      // A stream the client reset in the same read is not worth a handler's time.
      if (s == nullptr || s->closed || s->answered || shut_down_ || finished_) continue;
      const std::string_view content_type = HeaderValue(s->headers, "content-type");
      RouterRequest request{http::string_to_verb(s->method), s->path,
                            HeaderValue(s->headers, "x-amz-target"), content_type,
                            s->body ? std::move(s->body) : std::make_shared<std::string>()};
      request.headers = &s->headers;
      s->dispatched = true;
      ++dispatched_;
      // `s` may be gone once this returns (an inline answer to a reset stream).
      config_.on_request(id, std::move(request));
    }
    ready.clear();
    if (ready_.empty()) ready_.swap(ready);  // keep the capacity
  }
  if (!written_.empty()) {
    std::vector<std::function<void()>> written;
    written.swap(written_);
    for (auto& w : written)
      w();
  }
  if (!cancelled_.empty()) {
    std::vector<std::shared_ptr<BodyStream>> cancelled;
    cancelled.swap(cancelled_);
    for (auto& producer : cancelled)
      producer->Cancel();
  }
}

H2Connection::Clock::time_point H2Connection::NextDeadline() const {
  Clock::time_point next = Clock::time_point::max();
  if (finished_ || shut_down_) return next;
  const ServerOptions& o = *config_.options;
  if (writing_) next = std::min(next, write_started_ + o.idle_timeout);
  if (terminating_) return next;  // only the GOAWAY is left to write
  if (!first_request_seen_) next = std::min(next, started_ + o.header_timeout);
  if (in_block_) next = std::min(next, block_started_ + o.header_timeout);
  if (streams_.empty() && !writing_) next = std::min(next, idle_since_ + o.idle_timeout);
  for (const auto& [id, s] : streams_)
    next = std::min(next, s->deadline);
  return next;
}

void H2Connection::CheckDeadlines() {
  if (finished_ || shut_down_) return;
  const Clock::time_point now = Now();
  const ServerOptions& o = *config_.options;
  LimitCounters& counters = config_.limits->counters;
  if (writing_ && now >= write_started_ + o.idle_timeout) {
    finished_ = true;  // the client does not read: nothing more can be said
    return;
  }
  if (terminating_) return;
  if ((!first_request_seen_ && now >= started_ + o.header_timeout) ||
      (in_block_ && now >= block_started_ + o.header_timeout)) {
    counters.header_timeouts.fetch_add(1, std::memory_order_relaxed);
    Terminate(NGHTTP2_NO_ERROR);
    return;
  }
  if (streams_.empty() && !writing_ && now >= idle_since_ + o.idle_timeout) {
    Terminate(NGHTTP2_NO_ERROR);  // idle keep-alive: a graceful GOAWAY
    return;
  }
  for (auto& [id, s] : streams_) {
    if (s->deadline > now) continue;
    s->deadline = Clock::time_point::max();
    counters.h2_stream_timeouts.fetch_add(1, std::memory_order_relaxed);
    s->refused = true;  // a body still arriving is dropped
    const int rv = nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
    if (nghttp2_is_fatal(rv)) {
      finished_ = true;
      return;
    }
  }
}

}  // namespace tideline::server
