// One HTTP/1.1 connection (modeled on Beast's advanced_server): read a request, hand it to the
// Api, write the response, repeat while keep-alive holds. Requests of one connection are
// handled one at a time, in order: pipelined requests wait in the read buffer and the TCP
// window, which bounds what a client can queue. Owns the idle timeout and the body limit.
#pragma once

#include <array>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <functional>
#include "api.h"
#include "metrics.h"
#include "pipeline/pipeline.h"

#include "server/server.h"

namespace tideline::server {

// What every session shares; owned by the server, outlives all sessions' handlers.
struct SessionShared {
  const ServerOptions* options = nullptr;
  Api* api = nullptr;
  Metrics* metrics = nullptr;
  storage::Store* store = nullptr;
  const std::vector<pipeline::Pipeline*>* pipelines = nullptr;
  // Runs slow administrative work (a pipeline reset) off the I/O threads.
  std::function<void(std::function<void()>)> blocking;
};

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(boost::asio::ip::tcp::socket&& socket, const SessionShared& shared);
  void Run();

 private:
  using Request = boost::beast::http::request<boost::beast::http::string_body>;
  using Response = boost::beast::http::response<boost::beast::http::string_body>;

  void DoRead();
  void OnHeader(boost::beast::error_code ec, size_t bytes);
  void OnRead(boost::beast::error_code ec, size_t bytes);
  void HandleRequest(Request&& req);
  void HandleApi(Request&& req);
  // GET /health, /metrics, /pipelines, /pipelines/NAME; false when `req` is none of them.
  bool HandleGet(const Request& req);
  // POST /pipelines/NAME/reset; false when `req` is not one.
  bool HandlePipelinePost(Request& req);
  // Writes `resp` for a request of HTTP `version`; closes afterwards unless keep_alive.
  void Send(ApiResponse resp, unsigned version, bool keep_alive);
  void SendRaw(std::unique_ptr<Response> res);
  void OnWrite(bool close, boost::beast::error_code ec, size_t bytes);
  // Half-closes, then drains the peer's remaining bytes before closing (lingering close).
  void Close();
  void Drain();

  static constexpr size_t kBodyReadBuffer = 64u << 10;  // Beast's largest single read
  static constexpr size_t kIdleReadBuffer = 8u << 10;
  static constexpr std::chrono::seconds kLingerTimeout{5};
  static constexpr size_t kLingerMaxBytes = 64u << 20;

  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  SessionShared shared_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  std::unique_ptr<Response> response_;  // the response being written
  std::array<char, 16 * 1024> drain_buffer_{};
  size_t drained_ = 0;
};

}  // namespace tideline::server
