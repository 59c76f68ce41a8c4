#include "listener.h"

#include <algorithm>

#include <fmt/format.h>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

#include "logging.h"

namespace tideline::server {

namespace net = boost::asio;
namespace beast = boost::beast;

Listener::Listener(net::io_context& ioc, const SessionShared& shared)
    : ioc_(ioc),
      acceptor_(net::make_strand(ioc)),
      backoff_timer_(acceptor_.get_executor()),
      shared_(shared) {}

Status Listener::Bind(const net::ip::tcp::endpoint& endpoint) {
  beast::error_code ec;
  const auto fail = [&](std::string_view what) {
    return Status::IOError(fmt::format("{} {}:{}: {}", what, endpoint.address().to_string(),
                                       endpoint.port(), ec.message()));
  };
  acceptor_.open(endpoint.protocol(), ec);
  if (ec) return fail("open");
  acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (ec) return fail("set_option");
  acceptor_.bind(endpoint, ec);
  if (ec) return fail("bind");
  acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return fail("listen");
  port_ = acceptor_.local_endpoint(ec).port();
  if (ec) return fail("local_endpoint");
  return Status::Ok();
}

void Listener::Run() {
  DoAccept();
}

void Listener::Stop() {
  // Synchronously, so that no slot released from now on (even while the io_context is being
  // destroyed) posts to the listener.
  shared_.limits->gate.Shutdown();
  net::post(acceptor_.get_executor(), [self = shared_from_this()] {
    beast::error_code ec;
    self->acceptor_.close(ec);  // ignorable: closing an already closed acceptor
    self->backoff_timer_.cancel();
  });
}

void Listener::DoAccept() {
  if (!acceptor_.is_open()) return;
  const std::weak_ptr<Listener> weak = weak_from_this();
  const bool room = shared_.limits->gate.WaitForRoom([weak] {
    if (auto self = weak.lock()) {
      net::post(self->acceptor_.get_executor(), [self] { self->DoAccept(); });
    }
  });
  if (!room) {
    shared_.limits->counters.accept_paused.fetch_add(1, std::memory_order_relaxed);
    return;  // the gate calls back when a connection closes
  }
  acceptor_.async_accept(net::make_strand(ioc_),
                         beast::bind_front_handler(&Listener::OnAccept, shared_from_this()));
}

void Listener::OnAccept(beast::error_code ec, net::ip::tcp::socket socket) {
  if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
  if (!ec) {
    backoff_ = std::chrono::milliseconds(0);
    const ConnectionGate::Slot slot = shared_.limits->gate.Admit();
    if (shared_.tls) {
      std::make_shared<HttpSession<TlsStream>>(std::move(socket), shared_, slot,
                                               shared_.tls->Current())
          ->Run();
    } else {
      std::make_shared<HttpSession<PlainStream>>(std::move(socket), shared_, slot)->Run();
    }
    DoAccept();
    return;
  }
  // e.g. EMFILE: keep serving the connections we have, and retry later rather than at once,
  // which would fail again and spin a core (the pending connection stays in the backlog).
  shared_.limits->counters.accept_errors.fetch_add(1, std::memory_order_relaxed);
  backoff_ = std::clamp(backoff_ * 2, kMinBackoff, kMaxBackoff);
  accept_warning_.Warn(
      fmt::format("accept failed: {}; retrying in {} ms", ec.message(), backoff_.count()));
  backoff_timer_.expires_after(backoff_);
  backoff_timer_.async_wait([self = shared_from_this()](beast::error_code wait_ec) {
    if (wait_ec) return;  // cancelled by Stop
    self->DoAccept();
  });
}

}  // namespace tideline::server
