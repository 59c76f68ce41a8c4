// Accepts TCP connections and starts an HttpSession on its own strand for each: a TLS one, with
// the TLS context current at the accept, when SessionShared::tls is set.
//
// Accepting pauses, rather than spins, when it cannot go on: while every connection slot is
// taken (ConnectionGate wakes the listener when one frees), and after a failed accept (EMFILE,
// ENFILE, ENOBUFS, ...) for a backoff of 10 ms doubling to 1 s, reset by the next success.
// Accept failures are logged at most once per 10 s with a count of the suppressed ones.
#pragma once

#include <chrono>
#include <memory>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/status.h"
#include "http_session.h"

namespace tideline::server {

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  Listener(boost::asio::io_context& ioc, const SessionShared& shared);
  // Opens, binds and listens; an error names the endpoint.
  [[nodiscard]] Status Bind(const boost::asio::ip::tcp::endpoint& endpoint);
  uint16_t port() const { return port_; }
  void Run();
  // Stops accepting; safe from any thread.
  void Stop();

 private:
  static constexpr std::chrono::milliseconds kMinBackoff{10};
  static constexpr std::chrono::milliseconds kMaxBackoff{1000};

  void DoAccept();
  void OnAccept(boost::beast::error_code ec, boost::asio::ip::tcp::socket socket);

  boost::asio::io_context& ioc_;
  // The acceptor, the timer and backoff_ are used only on the acceptor's strand.
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer backoff_timer_;
  std::chrono::milliseconds backoff_{0};
  SessionShared shared_;
  RateLimitedWarning accept_warning_{std::chrono::seconds(10)};
  uint16_t port_ = 0;
};

}  // namespace tideline::server
