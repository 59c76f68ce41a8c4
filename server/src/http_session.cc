#include "http_session.h"

#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <utility>

#include <fmt/format.h>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>

#include "buffer_pool.h"
#include "errors.h"
#include "h2_session.h"
#include "lingering_close.h"
#include "logging.h"
#include "request_id.h"

namespace tideline::server {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;

namespace {

// RFC 9113 3.4: what an HTTP/2 client sends first.
constexpr std::string_view kH2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

}  // namespace

template <typename Stream>
HttpSession<Stream>::HttpSession(net::ip::tcp::socket&& socket, const SessionShared& shared,
                                 ConnectionGate::Slot slot, std::shared_ptr<ssl::context> tls)
    : tls_(std::move(tls)),
      stream_(MakeStream(std::move(socket), tls_.get())),
      shared_(shared),
      slot_(slot) {
  buffer_.reserve(kIdleReadBuffer);
  shared_.limits->counters.connections_accepted.fetch_add(1, std::memory_order_relaxed);
  if (slot_ == ConnectionGate::Slot::kOverflow) {
    shared_.limits->counters.connections_overflow.fetch_add(1, std::memory_order_relaxed);
  }
}

template <typename Stream>
Stream HttpSession<Stream>::MakeStream(net::ip::tcp::socket&& socket, ssl::context* tls) {
  if constexpr (kTls) {
    return Stream(std::move(socket), *tls);
  } else {
    (void)tls;  // plain: no context
    return Stream(std::move(socket));
  }
}

template <typename Stream>
HttpSession<Stream>::~HttpSession() {
  // Runs when the last handler of the session is gone, possibly while the io_context is being
  // destroyed: only the shared Limits may be touched here.
  if (handed_off_) return;  // the H2Session counts the close and releases the slot
  ReleaseReservation();
  ReleaseStreamReservation();
  UncountStream();
  shared_.limits->counters.connections_closed.fetch_add(1, std::memory_order_relaxed);
  shared_.limits->gate.Release(slot_);
}

template <typename Stream>
void HttpSession<Stream>::Run() {
  // Start on the session's strand so that every handler of this session is serialised.
  net::dispatch(stream_.get_executor(), [self = shared_from_this()] {
    if constexpr (kTls) {
      self->Handshake();
    } else {
      self->DoRead();
    }
  });
}

template <typename Stream>
void HttpSession<Stream>::Handshake() {
  if constexpr (kTls) {
    Tcp().expires_after(shared_.options->tls->handshake_timeout);
    stream_.async_handshake(
        ssl::stream_base::server,
        beast::bind_front_handler(&HttpSession<Stream>::OnHandshake, shared_from_this()));
  }
}

template <typename Stream>
void HttpSession<Stream>::OnHandshake(beast::error_code ec) {
  if constexpr (kTls) {
    LimitCounters& counters = shared_.limits->counters;
    if (ec) {
      const bool timeout = ec == beast::error::timeout;
      (timeout ? counters.tls_handshake_timeouts : counters.tls_handshake_failures)
          .fetch_add(1, std::memory_order_relaxed);
      beast::error_code peer_ec;
      const auto peer = Tcp().socket().remote_endpoint(peer_ec);
      Log().debug("TLS handshake with {} failed: {}",
                  peer_ec ? std::string("(unknown peer)")
                          : fmt::format("{}:{}", peer.address().to_string(), peer.port()),
                  timeout ? std::string("timed out") : ec.message());
      beast::error_code ignored;  // the connection is finished either way
      Tcp().socket().close(ignored);
      return;
    }
    counters.tls_handshakes.fetch_add(1, std::memory_order_relaxed);
    handshake_done_ = true;
    const unsigned char* protocol = nullptr;
    unsigned int protocol_len = 0;
    SSL_get0_alpn_selected(stream_.native_handle(), &protocol, &protocol_len);
    if (std::string_view(reinterpret_cast<const char*>(protocol), protocol_len) == "h2") {
      HandOffToH2();
      return;
    }
    DoRead();
  }
}

template <typename Stream>
void HttpSession<Stream>::DoRead() {
  parser_.emplace();
  // The largest body any request may have (Admit lowers it for the small requests): Beast
  // refuses a Content-Length above it while reading the header.
  body_limit_ = PutBodyLimit(
      shared_.options->max_body_bytes,
      shared_.record_ceiling ? shared_.record_ceiling->kib() : storage::kDefaultMaxRecordSizeKiB,
      shared_.options->max_inflight_bytes);
  parser_->body_limit(body_limit_);
  if (between_requests_ && buffer_.size() == 0) {
    // Keep-alive: the client may take idle_timeout to start its next request. The bytes read
    // here are the start of that request, so this costs no extra receive.
    Tcp().expires_after(shared_.options->idle_timeout);
    stream_.async_read_some(
        buffer_.prepare(std::max<size_t>(buffer_.capacity(), 512)),
        beast::bind_front_handler(&HttpSession<Stream>::OnFirstBytes, shared_from_this()));
    return;
  }
  if (!kTls && !between_requests_) {
    Tcp().expires_after(shared_.options->header_timeout);
    ReadPreface();
    return;
  }
  ReadHeader();
}

template <typename Stream>
void HttpSession<Stream>::ReadPreface() {
  stream_.async_read_some(
      buffer_.prepare(std::max<size_t>(buffer_.capacity() - buffer_.size(), 512)),
      beast::bind_front_handler(&HttpSession<Stream>::OnPrefaceBytes, shared_from_this()));
}

template <typename Stream>
void HttpSession<Stream>::OnPrefaceBytes(beast::error_code ec, size_t bytes) {
  if (ec) {
    if (ec == beast::error::timeout) {
      shared_.limits->counters.header_timeouts.fetch_add(1, std::memory_order_relaxed);
    }
    Close();
    return;
  }
  buffer_.commit(bytes);
  const auto data = buffer_.data();
  const std::string_view seen(static_cast<const char*>(data.data()), data.size());
  const size_t n = std::min(seen.size(), kH2Preface.size());
  if (seen.substr(0, n) != kH2Preface.substr(0, n)) {
    ReadHeader(/*restart_timer=*/false);  // HTTP/1.1, within the accept's header_timeout
    return;
  }
  if (n < kH2Preface.size()) {
    ReadPreface();  // so far a prefix of the preface
    return;
  }
  HandOffToH2();
}

template <typename Stream>
void HttpSession<Stream>::HandOffToH2() {
  Tcp().expires_never();
  const auto data = buffer_.data();
  std::string preread(static_cast<const char*>(data.data()), data.size());
  handed_off_ = true;
  std::make_shared<H2Session<Stream>>(std::move(stream_), shared_, slot_, tls_, std::move(preread))
      ->Run();
}

template <typename Stream>
void HttpSession<Stream>::OnFirstBytes(beast::error_code ec, size_t bytes) {
  if (ec) {
    Close();  // end_of_stream, idle timeout or reset
    return;
  }
  buffer_.commit(bytes);
  ReadHeader();
}

template <typename Stream>
void HttpSession<Stream>::ReadHeader(bool restart_timer) {
  if (restart_timer) Tcp().expires_after(shared_.options->header_timeout);
  http::async_read_header(
      stream_, buffer_, *parser_,
      beast::bind_front_handler(&HttpSession<Stream>::OnHeader, shared_from_this()));
}

template <typename Stream>
void HttpSession<Stream>::OnHeader(beast::error_code ec, size_t bytes) {
  if (ec == beast::error::timeout) {
    shared_.limits->counters.header_timeouts.fetch_add(1, std::memory_order_relaxed);
  }
  if (ec) {
    OnRead(ec, bytes);
    return;
  }
  if (!Admit()) return;
  if (parser_->is_done()) {
    OnRead(ec, bytes);
    return;
  }
  const Request& req = parser_->get();
  if (req.version() >= 11 && beast::iequals(req[http::field::expect], "100-continue")) {
    // The client waits for this before sending the body (RFC 9110 10.1.1); Admit() already
    // answered the requests whose body would be refused.
    continue_.emplace(http::status::continue_, req.version());
    Tcp().expires_after(shared_.options->idle_timeout);
    http::async_write(
        stream_, *continue_,
        beast::bind_front_handler(&HttpSession<Stream>::OnContinueWritten, shared_from_this()));
    return;
  }
  ReadBody();
}

template <typename Stream>
bool HttpSession<Stream>::Admit() {
  const Request& req = parser_->get();
  LimitCounters& counters = shared_.limits->counters;
  const std::string_view path(req.target().data(), req.target().size());
  const auto amz_target = req["X-Amz-Target"];
  const RouteClass route = shared_.router->Classify(
      req.method(), path, std::string_view(amz_target.data(), amz_target.size()));
  if (slot_ == ConnectionGate::Slot::kOverflow && !route.probe) {
    counters.rejected_overflow.fetch_add(1, std::memory_order_relaxed);
    Reject(MakeError(ApiErrorType::kServiceUnavailable,
                     fmt::format("Too many connections (server.max_connections is {}); retry "
                                 "later.",
                                 shared_.limits->gate.max())));
    return false;
  }
  if (parser_->is_done()) return true;  // no body: nothing to limit or reserve
  const OperationKind kind = route.kind;
  if (kind != OperationKind::kPut) {
    body_limit_ = std::min<uint64_t>(kSmallBodyBytes, shared_.options->max_body_bytes);
  }
  const auto length = parser_->content_length();
  if (length && *length > body_limit_) {
    RejectTooLarge();
    return false;
  }
  // A chunked body may grow to the limit, so that much is reserved; Beast enforces the limit.
  if (!length) parser_->body_limit(body_limit_);
  uint64_t want = length ? *length : body_limit_;
  if (kind == OperationKind::kRead) want = std::max(want, kReadReserve);
  if (!shared_.limits->budget.TryReserve(want)) {
    counters.rejected_inflight.fetch_add(1, std::memory_order_relaxed);
    const std::string message = fmt::format(
        "Rate exceeded: the server holds its limit of {} request bytes in flight "
        "(server.max_inflight_bytes); retry later.",
        shared_.limits->budget.capacity());
    Reject(MakeError(kind == OperationKind::kOther ? ApiErrorType::kLimitExceeded
                                                   : ApiErrorType::kProvisionedThroughputExceeded,
                     message));
    return false;
  }
  reserved_ = want;
  return true;
}

template <typename Stream>
void HttpSession<Stream>::OnContinueWritten(beast::error_code ec, size_t /*bytes*/) {
  if (ec) {
    Close();
    return;
  }
  ReadBody();
}

template <typename Stream>
void HttpSession<Stream>::ReadBody() {
  // Beast reads at most the buffer's free capacity (at least 512 bytes) per receive. An idle
  // connection keeps a small buffer; a request with a body gets kBodyReadBuffer for as long as
  // it is being read, so a 5 MB PutRecords takes ~80 receives instead of ~10,000.
  const auto length = parser_->content_length();
  const size_t want = length ? std::min<uint64_t>(*length, kBodyReadBuffer) : kBodyReadBuffer;
  if (buffer_.capacity() - buffer_.size() < want) buffer_.reserve(buffer_.size() + want);
  Tcp().expires_after(shared_.options->idle_timeout);
  http::async_read(stream_, buffer_, *parser_,
                   beast::bind_front_handler(&HttpSession<Stream>::OnRead, shared_from_this()));
}

template <typename Stream>
void HttpSession<Stream>::OnRead(beast::error_code ec, size_t /*bytes*/) {
  // Between requests the connection only needs room for a header (and pipelined bytes).
  if (buffer_.capacity() > kIdleReadBuffer && buffer_.size() <= kIdleReadBuffer) {
    beast::flat_buffer idle;
    idle.reserve(kIdleReadBuffer);
    idle.commit(net::buffer_copy(idle.prepare(buffer_.size()), buffer_.data()));
    buffer_ = std::move(idle);
  }
  if (ec == http::error::body_limit) {
    RejectTooLarge();  // the rest of the body is unread: the connection closes after the answer
    return;
  }
  if (ec) {
    // end_of_stream, timeout, reset, or a malformed request line: nothing to answer.
    Close();
    return;
  }
  HandleRequest(parser_->release());
}

template <typename Stream>
void HttpSession<Stream>::HandleRequest(Request&& req) {
  const unsigned version = req.version();
  const bool keep_alive = req.keep_alive();
  // The views point into `req`'s header and stay valid while Dispatch runs; the body moves.
  const auto target = req.target();
  const auto amz_target = req["X-Amz-Target"];
  const auto content_type = req[http::field::content_type];
  RouterRequest routed{req.method(), std::string_view(target.data(), target.size()),
                       std::string_view(amz_target.data(), amz_target.size()),
                       std::string_view(content_type.data(), content_type.size()),
                       std::make_shared<std::string>(std::move(req.body()))};
  routed.headers = &req;  // every header, for the signature check; outlives Dispatch
  auto self = shared_from_this();
  // respond_on may be copied to another thread and outlive the answer there; what it keeps of
  // the session (and so of the strand) is let go before its Hold, so Server::Stop, which waits
  // for every Hold, never destroys the io_context under it.
  struct Posting {
    Posting(CompletionPoster& poster, std::shared_ptr<HttpSession> s)
        : hold(poster), session(std::move(s)) {}
    CompletionPoster::Hold hold;           // destroyed last
    std::shared_ptr<HttpSession> session;  // destroyed first
  };
  auto posting = std::make_shared<Posting>(*shared_.completions, self);
  // Responses made on another thread come back to this session's strand, so `done` always
  // runs there: inline, or posted by respond_on.
  shared_.router->Dispatch(
      std::move(routed),
      [self, version, keep_alive](ApiResponse resp) {
        self->Send(std::move(resp), version, keep_alive);
      },
      [posting = std::move(posting)](std::function<void()> task) {
        HttpSession& s = *posting->session;
        s.shared_.completions->Post(s.stream_.get_executor(), std::move(task));
      });
}

template <typename Stream>
void HttpSession<Stream>::Send(ApiResponse resp, unsigned version, bool keep_alive) {
  if (resp.stream) {
    StartStream(std::move(resp), version, keep_alive);
    return;
  }
  auto res = std::make_unique<Response>(static_cast<http::status>(resp.status), version);
  res->set(http::field::content_type, resp.content_type);
  if (!resp.error_type.empty()) res->set("x-amzn-ErrorType", resp.error_type);
  res->keep_alive(keep_alive);
  res->body() = std::move(resp.body);
  res->prepare_payload();
  // A response is memory too (a GetRecords answer is up to ~14 MB): the reservation covers it
  // until it is written. Forced, because the work is done and the answer must go out.
  if (res->body().size() > reserved_) {
    shared_.limits->budget.ForceReserve(res->body().size() - reserved_);
    reserved_ = res->body().size();
  }
  SendRaw(std::move(res));
}

template <typename Stream>
void HttpSession<Stream>::Reject(ApiResponse resp) {
  Send(std::move(resp), parser_->get().version(), /*keep_alive=*/false);
}

template <typename Stream>
void HttpSession<Stream>::RejectTooLarge() {
  shared_.limits->counters.rejected_body_size.fetch_add(1, std::memory_order_relaxed);
  Reject(MakeError(ApiErrorType::kRequestTooLarge,
                   fmt::format("Request body exceeds the limit of {} bytes.", body_limit_)));
}

template <typename Stream>
void HttpSession<Stream>::ReleaseReservation() {
  if (reserved_ == 0) return;
  shared_.limits->budget.Release(reserved_);
  reserved_ = 0;
}

template <typename Stream>
void HttpSession<Stream>::SendRaw(std::unique_ptr<Response> res) {
  response_ = std::move(res);
  // An overflow slot serves one health check, then makes room.
  if (slot_ == ConnectionGate::Slot::kOverflow) response_->keep_alive(false);
  response_->set("x-amzn-RequestId", NewRequestId());
  const bool close = response_->need_eof();
  Tcp().expires_after(shared_.options->idle_timeout);
  http::async_write(
      stream_, *response_,
      beast::bind_front_handler(&HttpSession<Stream>::OnWrite, shared_from_this(), close));
}

template <typename Stream>
void HttpSession<Stream>::OnWrite(bool close, beast::error_code ec, size_t /*bytes*/) {
  if (response_) GiveResponseBuffer(std::move(response_->body()));
  response_.reset();
  ReleaseReservation();
  between_requests_ = true;
  if (ec || close) {
    Close();
    return;
  }
  DoRead();
}

template <typename Stream>
void HttpSession<Stream>::Close() {
  if constexpr (kTls) {
    if (handshake_done_) {
      // close_notify tells the client the response is complete, not cut off. Waiting for its
      // close_notify is bounded; whatever the outcome (a client that just closes, one still
      // sending a body), the TCP close below follows.
      Tcp().expires_after(kLingerTimeout);
      stream_.async_shutdown(
          [self = shared_from_this()](beast::error_code /*ec*/) { self->CloseTcp(); });
      return;
    }
  }
  CloseTcp();
}

template <typename Stream>
void HttpSession<Stream>::CloseTcp() {
  // A client still sending (e.g. the rest of a body over the limit) would get a TCP reset if we
  // closed with unread data, and could lose the response. The read buffer takes what it sends,
  // never committed; unread pipelined requests are dropped with the connection.
  buffer_.clear();
  LingeringClose(Tcp(), buffer_.prepare(std::max<size_t>(buffer_.capacity(), 512)),
                 shared_from_this());
}

template class HttpSession<PlainStream>;
template class HttpSession<TlsStream>;

}  // namespace tideline::server
