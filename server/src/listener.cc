#include "listener.h"

#include <fmt/format.h>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

#include "logging.h"

namespace tideline::server {

namespace net = boost::asio;
namespace beast = boost::beast;

Listener::Listener(net::io_context& ioc, const SessionShared& shared)
    : ioc_(ioc), acceptor_(net::make_strand(ioc)), shared_(shared) {}

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
  net::post(acceptor_.get_executor(), [self = shared_from_this()] {
    beast::error_code ec;
    self->acceptor_.close(ec);  // ignorable: closing an already closed acceptor
  });
}

void Listener::DoAccept() {
  acceptor_.async_accept(net::make_strand(ioc_),
                         beast::bind_front_handler(&Listener::OnAccept, shared_from_this()));
}

void Listener::OnAccept(beast::error_code ec, net::ip::tcp::socket socket) {
  if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
  if (ec) {
    // e.g. EMFILE: keep serving the connections we have and try again.
    Log().warn("accept failed: {}", ec.message());
  } else {
    std::make_shared<HttpSession>(std::move(socket), shared_)->Run();
  }
  DoAccept();
}

}  // namespace tideline::server
