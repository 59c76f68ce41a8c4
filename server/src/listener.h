// Accepts TCP connections and starts an HttpSession on its own strand for each.
#pragma once

#include <memory>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "http_session.h"
#include "storage/status.h"

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
  void DoAccept();
  void OnAccept(boost::beast::error_code ec, boost::asio::ip::tcp::socket socket);

  boost::asio::io_context& ioc_;
  boost::asio::ip::tcp::acceptor acceptor_;
  SessionShared shared_;
  uint16_t port_ = 0;
};

}  // namespace tideline::server
