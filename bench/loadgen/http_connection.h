// One HTTP/1.1 keep-alive connection with synchronous Boost.Beast I/O, plain or HTTPS.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>

#include "auth/sigv4.h"

namespace tideline::loadgen {

// SigV4 signing of every request, as an AWS SDK would (service kinesis).
struct Signing {
  tideline::auth::Credentials credentials;
  // Default: us-east-1
  std::string region = "us-east-1";
};

struct Endpoint {
  std::string host;
  std::string port;
  // Set for HTTPS: the client context (TLS 1.2+, the server's certificate verified against its
  // trusted CAs and for `host`), shared by every connection. Null: plain HTTP.
  std::shared_ptr<boost::asio::ssl::context> tls;
  // Null: requests go unsigned (a server with auth mode none).
  std::shared_ptr<const Signing> signing;
};

// A client context for HTTPS that trusts the CA certificates in `ca_file` (PEM), or the
// system's trusted CAs when it is empty. Null with `error` set when the file cannot be used.
std::shared_ptr<boost::asio::ssl::context> MakeTlsClientContext(const std::string& ca_file,
                                                                std::string& error);

// Connects `socket` (closed) to the endpoint with TCP_NODELAY. False with `error` set on failure.
[[nodiscard]] bool ConnectTcp(const Endpoint& endpoint, boost::asio::ip::tcp::socket& socket,
                              std::string& error);

// For an HTTPS endpoint: makes `tls` over the connected `socket` and completes the handshake
// (SNI for a host name, the certificate verified for the host). False with `error` set.
[[nodiscard]] bool HandshakeTls(
    const Endpoint& endpoint, boost::asio::ip::tcp::socket& socket,
    std::unique_ptr<boost::asio::ssl::stream<boost::asio::ip::tcp::socket&>>& tls,
    std::string& error);

// Parses "HOST:PORT" (HOST may be a name, an IPv4 address or a bracketed IPv6 address).
// Returns false and sets `error` if it is not of that shape.
[[nodiscard]] bool ParseEndpoint(std::string_view text, Endpoint& out, std::string& error);

// A complete serialized Kinesis JSON 1.1 request: `POST /` with X-Amz-Target
// `Kinesis_20131202.<operation>`, ready to be written to a socket as is.
[[nodiscard]] std::string BuildKinesisRequest(const Endpoint& endpoint, std::string_view operation,
                                              std::string_view body);

// The header block of that request (up to and including the blank line), signed now when the
// endpoint signs. `body_hash` (hex SHA-256 of `body`) spares hashing a body signed again and
// again; empty: hashed here.
[[nodiscard]] std::string KinesisHead(const Endpoint& endpoint, std::string_view operation,
                                      std::string_view body, std::string_view body_hash = {});

struct HttpResponse {
  unsigned status = 0;
  std::string body;
};

// Not thread-safe: one thread uses a connection, except Abort() which any thread may call.
class HttpConnection {
 public:
  // Largest response body accepted (a GetRecords response is at most about 14 MB of JSON).
  static constexpr uint64_t kMaxResponseBytes = 64u << 20;
  static constexpr size_t kReadBufferBytes = 64u << 10;

  explicit HttpConnection(Endpoint endpoint);
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // Writes `raw_request` and reads one response into `out`, connecting first if needed.
  // Returns false with `error` set on any connection or protocol error; the connection is
  // then closed and the next call reconnects. Never retries (a retried PutRecords could
  // store records twice).
  [[nodiscard]] bool RoundTrip(std::string_view raw_request, HttpResponse& out, std::string& error);
  // The same with the request in two parts (header block, body), written with one gather write.
  [[nodiscard]] bool RoundTrip(std::string_view head, std::string_view body, HttpResponse& out,
                               std::string& error);

  // Sends GET `target` and reads the response, as RoundTrip.
  [[nodiscard]] bool Get(std::string_view target, HttpResponse& out, std::string& error);

  // Unblocks a RoundTrip blocked in another thread (it then fails). Safe from any thread.
  void Abort();

 private:
  [[nodiscard]] bool Connect(std::string& error);
  void Close();
  // Writes the request and reads the response on `stream` (the socket, or the TLS stream).
  template <typename Stream>
  [[nodiscard]] bool Exchange(Stream& stream, std::string_view head, std::string_view body,
                              HttpResponse& out, std::string& error);

  Endpoint endpoint_;
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::socket socket_;
  // The TLS layer over socket_ while connected, with endpoint_.tls.
  std::unique_ptr<boost::asio::ssl::stream<boost::asio::ip::tcp::socket&>> tls_;
  boost::beast::flat_buffer buffer_;
  // Native handle of the open socket, or -1; read by Abort() from other threads.
  std::atomic<int> native_fd_{-1};
  std::atomic<bool> aborted_{false};
};

}  // namespace tideline::loadgen
