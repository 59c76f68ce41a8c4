// One HTTP/2 connection over a socket: moves bytes between the stream (plain TCP for h2c, TLS for
// h2) and an H2Connection, hands its requests to the Router, and brings answers produced on
// other threads back to the connection's strand through the CompletionPoster, as HttpSession
// does. HttpSession starts every connection and hands it over (with any bytes it already read)
// when the connection turns out to speak HTTP/2: the h2c preface on the plain port, ALPN "h2" on
// the TLS port.
//
// One read and one write may be in flight at once (full duplex). A read is started only while
// the connection WantsRead (output drained below its high-water mark, handlers not saturated);
// every timeout is the connection's (H2Connection::NextDeadline), watched by one timer. The
// session holds the connection slot it was handed and releases it when the last handler is
// gone; closing sends what the connection still has (a GOAWAY), close_notify with TLS, then a
// lingering close as HTTP/1.1's.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "h2_connection.h"
#include "http_session.h"

namespace tideline::server {

template <typename Stream>
class H2Session : public std::enable_shared_from_this<H2Session<Stream>> {
 public:
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

  // Takes over a connection that speaks HTTP/2: `stream` (with TLS: handshake done, ALPN h2),
  // the connection `slot` (released when the session ends), the TLS context `stream` uses (null
  // for plain) and the bytes already read from it (`preread`, from the preface on).
  H2Session(Stream&& stream, const SessionShared& shared, ConnectionGate::Slot slot,
            std::shared_ptr<boost::asio::ssl::context> tls, std::string preread);
  ~H2Session();
  H2Session(const H2Session&) = delete;
  H2Session& operator=(const H2Session&) = delete;

  // Starts on the session's strand.
  void Run();

 private:
  using std::enable_shared_from_this<H2Session<Stream>>::shared_from_this;
  using std::enable_shared_from_this<H2Session<Stream>>::weak_from_this;

  boost::beast::tcp_stream& Tcp() { return boost::beast::get_lowest_layer(stream_); }
  void Start();
  // Starts whatever the connection has to do and is not running: a write of its output, a read,
  // the timer for its next deadline; closes once it is finished.
  void Pump();
  void OnRead(boost::beast::error_code ec, size_t bytes);
  void OnWrite(boost::beast::error_code ec, size_t bytes);
  void ArmTimer();
  void OnTimer(uint64_t generation, boost::beast::error_code ec);
  void OnRequest(int32_t stream_id, RouterRequest request);
  // Stops the connection; once no read or write is in flight, FinishClose.
  void Close();
  // close_notify (TLS, bounded by kLingerTimeout), then CloseTcp.
  void FinishClose();
  // Half-closes, then drains what the peer still sends before closing (lingering close).
  void CloseTcp();

  // As HttpSession's buffers: a connection without streams reads into a small buffer, one with
  // requests in progress (bodies to read) into a large one, so a 5 MB PutRecords takes ~80
  // receives, not ~320.
  static constexpr size_t kIdleReadBuffer = 16u << 10;
  static constexpr size_t kBodyReadBuffer = 64u << 10;

  // The context this TLS connection uses (null for plain); declared before stream_.
  const std::shared_ptr<boost::asio::ssl::context> tls_;
  Stream stream_;
  SessionShared shared_;
  const ConnectionGate::Slot slot_;
  std::string preread_;               // given to the connection by Start
  std::optional<H2Connection> conn_;  // made by Start (its `post` needs weak_from_this)
  std::unique_ptr<uint8_t[]> read_buffer_;
  size_t read_buffer_size_ = 0;
  boost::asio::steady_timer timer_;
  std::chrono::steady_clock::time_point armed_for_ = std::chrono::steady_clock::time_point::max();
  uint64_t timer_generation_ = 0;  // a wait of an older generation was superseded
  bool reading_ = false;
  bool writing_ = false;
  bool receiving_ = false;  // inside H2Connection::Receive: no new read into read_buffer_
  bool closing_ = false;
};

extern template class H2Session<PlainStream>;
extern template class H2Session<TlsStream>;

}  // namespace tideline::server
