#include "http_session.h"

#include <fmt/format.h>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>

#include "buffer_pool.h"
#include "errors.h"
#include "pipeline_admin.h"
#include "request_id.h"

namespace tideline::server {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;

HttpSession::HttpSession(net::ip::tcp::socket&& socket, const SessionShared& shared)
    : stream_(std::move(socket)), shared_(shared) {
  buffer_.reserve(kIdleReadBuffer);
}

void HttpSession::Run() {
  // Start on the session's strand so that every handler of this session is serialised.
  net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->DoRead(); });
}

void HttpSession::DoRead() {
  parser_.emplace();
  parser_->body_limit(shared_.options->max_body_bytes);
  stream_.expires_after(shared_.options->idle_timeout);
  http::async_read_header(stream_, buffer_, *parser_,
                          beast::bind_front_handler(&HttpSession::OnHeader, shared_from_this()));
}

void HttpSession::OnHeader(beast::error_code ec, size_t bytes) {
  if (ec || parser_->is_done()) {
    OnRead(ec, bytes);
    return;
  }
  // Beast reads at most the buffer's free capacity (at least 512 bytes) per receive. An idle
  // connection keeps a small buffer; a request with a body gets kBodyReadBuffer for as long as
  // it is being read, so a 5 MB PutRecords takes ~80 receives instead of ~10,000.
  const auto length = parser_->content_length();
  const size_t want = length ? std::min<uint64_t>(*length, kBodyReadBuffer) : kBodyReadBuffer;
  if (buffer_.capacity() - buffer_.size() < want) buffer_.reserve(buffer_.size() + want);
  http::async_read(stream_, buffer_, *parser_,
                   beast::bind_front_handler(&HttpSession::OnRead, shared_from_this()));
}

void HttpSession::OnRead(beast::error_code ec, size_t /*bytes*/) {
  // Between requests the connection only needs room for a header (and pipelined bytes).
  if (buffer_.capacity() > kIdleReadBuffer && buffer_.size() <= kIdleReadBuffer) {
    beast::flat_buffer idle;
    idle.reserve(kIdleReadBuffer);
    idle.commit(net::buffer_copy(idle.prepare(buffer_.size()), buffer_.data()));
    buffer_ = std::move(idle);
  }
  if (ec == http::error::body_limit) {
    // The rest of the body is unread, so the connection cannot continue after the answer.
    Send(MakeError(ApiErrorType::kRequestTooLarge,
                   fmt::format("Request body exceeds the limit of {} bytes.",
                               shared_.options->max_body_bytes)),
         parser_->get().version(), /*keep_alive=*/false);
    return;
  }
  if (ec) {
    // end_of_stream, timeout, reset, or a malformed request line: nothing to answer.
    Close();
    return;
  }
  HandleRequest(parser_->release());
}

void HttpSession::HandleRequest(Request&& req) {
  const unsigned version = req.version();
  const bool keep_alive = req.keep_alive();
  if (req.method() == http::verb::get && HandleGet(req)) return;
  if (req.method() == http::verb::post && HandlePipelinePost(req)) return;
  if (req.method() != http::verb::post) {
    Send(MakeError(ApiErrorType::kUnknownOperation,
                   fmt::format("Unsupported method {} {}", std::string(req.method_string()),
                               std::string(req.target()))),
         version, keep_alive);
    return;
  }
  HandleApi(std::move(req));
}

bool HttpSession::HandleGet(const Request& req) {
  const std::string_view target(req.target().data(), req.target().size());
  const bool pipelines = target == "/pipelines" || target.starts_with("/pipelines/");
  if (target != "/health" && target != "/metrics" && !pipelines) return false;
  auto res = std::make_unique<Response>(http::status::ok, req.version());
  res->keep_alive(req.keep_alive());
  std::vector<pipeline::PipelineStatus> statuses;
  if (target != "/health") {
    for (pipeline::Pipeline* p : *shared_.pipelines)
      statuses.push_back(p->GetStatus());
  }
  const Status health = shared_.store->Health();
  if (target == "/health") {
    res->set(http::field::content_type, "text/plain");
    res->result(health.ok() ? http::status::ok : http::status::service_unavailable);
    res->body() = health.ok() ? std::string("ok") : health.ToString();
  } else if (target == "/metrics") {
    res->set(http::field::content_type, "text/plain; version=0.0.4");
    res->body() = shared_.metrics->Render(health, shared_.store->Stats()) +
                  pipeline::PipelineMetricsText(statuses);
  } else {
    if (target != "/pipelines") {
      const std::string_view name = target.substr(std::string_view("/pipelines/").size());
      std::erase_if(statuses, [&](const pipeline::PipelineStatus& s) { return s.name != name; });
      if (statuses.empty()) {
        Send(MakeError(ApiErrorType::kResourceNotFound,
                       fmt::format("Pipeline {} not found.", name.substr(0, 128))),
             req.version(), req.keep_alive());
        return true;
      }
    }
    res->set(http::field::content_type, "application/json");
    res->body() = pipeline::PipelineStatusJson(statuses);
  }
  res->prepare_payload();
  SendRaw(std::move(res));
  return true;
}

bool HttpSession::HandlePipelinePost(Request& req) {
  const std::string_view target(req.target().data(), req.target().size());
  constexpr std::string_view kPrefix = "/pipelines/";
  constexpr std::string_view kSuffix = "/reset";
  if (!target.starts_with(kPrefix) || !target.ends_with(kSuffix) ||
      target.size() <= kPrefix.size() + kSuffix.size()) {
    return false;
  }
  std::string name(target.substr(kPrefix.size(), target.size() - kPrefix.size() - kSuffix.size()));
  auto body = std::make_shared<std::string>(std::move(req.body()));
  const unsigned version = req.version();
  const bool keep_alive = req.keep_alive();
  shared_.blocking([self = shared_from_this(), name = std::move(name), body, version, keep_alive] {
    ApiResponse resp = HandlePipelineReset(*self->shared_.pipelines, name, *body);
    net::post(self->stream_.get_executor(),
              [self, resp = std::move(resp), version, keep_alive]() mutable {
                self->Send(std::move(resp), version, keep_alive);
              });
  });
  return true;
}

void HttpSession::HandleApi(Request&& req) {
  const unsigned version = req.version();
  const bool keep_alive = req.keep_alive();
  const auto ct = req[http::field::content_type];
  const std::string_view content_type(ct.data(), ct.size());
  if (!content_type.empty() && content_type.find("application/x-amz-json-1.1") != 0 &&
      content_type.find("application/json") != 0) {
    Send(MakeError(ApiErrorType::kSerialization,
                   fmt::format("Unsupported Content-Type: {}", content_type.substr(0, 100))),
         version, keep_alive);
    return;
  }
  const std::string target(req["X-Amz-Target"]);
  auto body = std::make_shared<std::string>(std::move(req.body()));
  // The Api may complete on any thread: hop back to this session's strand to write.
  shared_.api->Handle(target, std::move(body),
                      [self = shared_from_this(), version, keep_alive](ApiResponse resp) {
                        net::post(self->stream_.get_executor(),
                                  [self, resp = std::move(resp), version, keep_alive]() mutable {
                                    self->Send(std::move(resp), version, keep_alive);
                                  });
                      });
}

void HttpSession::Send(ApiResponse resp, unsigned version, bool keep_alive) {
  auto res = std::make_unique<Response>(static_cast<http::status>(resp.status), version);
  res->set(http::field::content_type, "application/x-amz-json-1.1");
  if (!resp.error_type.empty()) res->set("x-amzn-ErrorType", resp.error_type);
  res->keep_alive(keep_alive);
  res->body() = std::move(resp.body);
  res->prepare_payload();
  SendRaw(std::move(res));
}

void HttpSession::SendRaw(std::unique_ptr<Response> res) {
  response_ = std::move(res);
  response_->set("x-amzn-RequestId", NewRequestId());
  const bool close = response_->need_eof();
  stream_.expires_after(shared_.options->idle_timeout);
  http::async_write(stream_, *response_,
                    beast::bind_front_handler(&HttpSession::OnWrite, shared_from_this(), close));
}

void HttpSession::OnWrite(bool close, beast::error_code ec, size_t /*bytes*/) {
  if (response_) GiveResponseBuffer(std::move(response_->body()));
  response_.reset();
  if (ec || close) {
    Close();
    return;
  }
  DoRead();
}

void HttpSession::Close() {
  beast::error_code ec;
  // Ignorable: the peer may already be gone; we only release the socket.
  stream_.socket().shutdown(net::ip::tcp::socket::shutdown_send, ec);
  if (ec) return;
  // Lingering close: a client still sending (e.g. the rest of a body over the limit) would get
  // a TCP reset if we closed with unread data, and could lose the response. Discard what it
  // sends, bounded in bytes and time, until it closes its side.
  drained_ = 0;
  stream_.expires_after(kLingerTimeout);
  Drain();
}

void HttpSession::Drain() {
  stream_.async_read_some(net::buffer(drain_buffer_.data(), drain_buffer_.size()),
                          [self = shared_from_this()](beast::error_code ec, size_t n) {
                            self->drained_ += n;
                            if (ec || self->drained_ > kLingerMaxBytes) {
                              beast::error_code ignored;  // the connection is finished either way
                              self->stream_.socket().close(ignored);
                              return;
                            }
                            self->Drain();
                          });
}

}  // namespace tideline::server
