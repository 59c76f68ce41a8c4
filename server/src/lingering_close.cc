#include "lingering_close.h"

namespace tideline::server {
namespace {

namespace beast = boost::beast;
namespace net = boost::asio;

struct Linger {
  beast::tcp_stream& tcp;
  net::mutable_buffer scratch;
  std::shared_ptr<void> owner;
  size_t drained = 0;
};

void DrainMore(std::shared_ptr<Linger> linger) {
  Linger& l = *linger;
  l.tcp.async_read_some(l.scratch, [linger = std::move(linger)](beast::error_code ec, size_t n) {
    linger->drained += n;
    if (ec || linger->drained > kLingerMaxBytes) {
      beast::error_code ignored;  // the connection is finished either way
      linger->tcp.socket().close(ignored);
      return;
    }
    DrainMore(linger);
  });
}

}  // namespace

void LingeringClose(beast::tcp_stream& tcp, net::mutable_buffer scratch,
                    std::shared_ptr<void> owner) {
  beast::error_code ec;
  // Ignorable: the peer may already be gone; we only release the socket.
  tcp.socket().shutdown(net::ip::tcp::socket::shutdown_send, ec);
  if (ec) return;
  tcp.expires_after(kLingerTimeout);
  DrainMore(std::make_shared<Linger>(Linger{tcp, scratch, std::move(owner)}));
}

}  // namespace tideline::server
