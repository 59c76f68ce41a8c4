#include "http_connection.h"

#include <sys/socket.h>

#include <openssl/ssl.h>
#include <array>
#include <ctime>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

namespace tideline::loadgen {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

bool ParseEndpoint(std::string_view text, Endpoint& out, std::string& error) {
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == text.size()) {
    error = "endpoint must be HOST:PORT, got '" + std::string(text) + "'";
    return false;
  }
  std::string_view host = text.substr(0, colon);
  std::string_view port = text.substr(colon + 1);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  unsigned value = 0;
  for (char c : port) {
    if (c < '0' || c > '9' || (value = value * 10 + static_cast<unsigned>(c - '0')) > 65535) {
      error = "endpoint port must be 1..65535, got '" + std::string(port) + "'";
      return false;
    }
  }
  if (value == 0) {
    error = "endpoint port must be 1..65535, got '" + std::string(port) + "'";
    return false;
  }
  out.host = std::string(host);
  out.port = std::string(port);
  return true;
}

std::shared_ptr<asio::ssl::context> MakeTlsClientContext(const std::string& ca_file,
                                                         std::string& error) {
  auto context = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(context->native_handle(), TLS1_2_VERSION);
  boost::system::error_code ec;
  if (ca_file.empty()) {
    context->set_default_verify_paths(ec);
  } else {
    context->load_verify_file(ca_file, ec);
  }
  if (!ec) context->set_verify_mode(asio::ssl::verify_peer, ec);
  if (ec) {
    error = "CA file '" + ca_file + "': " + ec.message();
    return nullptr;
  }
  return context;
}

namespace {

// "Name: value\r\n" lines of the signature of a request with these headers.
std::string SignatureLines(const Endpoint& endpoint, std::string_view method,
                           std::string_view target, const std::string& host,
                           std::string_view amz_target, std::string_view body,
                           std::string_view body_hash) {
  if (!endpoint.signing) return {};
  std::vector<tideline::auth::Header> headers = {{"Host", host}};
  if (!amz_target.empty()) {
    headers.push_back({"X-Amz-Target", amz_target});
    headers.push_back({"Content-Type", "application/x-amz-json-1.1"});
  }
  tideline::auth::SignRequest req;
  req.method = method;
  req.target = target;
  req.headers = std::move(headers);
  req.body = body;
  req.payload_hash = body_hash;
  req.region = endpoint.signing->region;
  req.service = "kinesis";
  req.epoch_seconds = static_cast<int64_t>(std::time(nullptr));
  std::string out;
  for (const auto& [name, value] :
       tideline::auth::SignHeaders(req, endpoint.signing->credentials)) {
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  }
  return out;
}

}  // namespace

std::string KinesisHead(const Endpoint& endpoint, std::string_view operation, std::string_view body,
                        std::string_view body_hash) {
  const std::string host = endpoint.host + ":" + endpoint.port;
  const std::string amz_target = "Kinesis_20131202." + std::string(operation);
  std::string request;
  request.reserve(512);
  request += "POST / HTTP/1.1\r\nHost: ";
  request += host;
  request += "\r\nX-Amz-Target: ";
  request += amz_target;
  request +=
      "\r\nContent-Type: application/x-amz-json-1.1\r\nUser-Agent: tideline-loadgen\r\n"
      "Connection: keep-alive\r\n";
  request += SignatureLines(endpoint, "POST", "/", host, amz_target, body, body_hash);
  request += "Content-Length: ";
  request += std::to_string(body.size());
  request += "\r\n\r\n";
  return request;
}

std::string BuildKinesisRequest(const Endpoint& endpoint, std::string_view operation,
                                std::string_view body) {
  std::string request = KinesisHead(endpoint, operation, body);
  request += body;
  return request;
}

HttpConnection::HttpConnection(Endpoint endpoint) : endpoint_(std::move(endpoint)), socket_(ioc_) {}

bool ConnectTcp(const Endpoint& endpoint, tcp::socket& socket, std::string& error) {
  boost::system::error_code ec;
  tcp::resolver resolver(socket.get_executor());
  auto results = resolver.resolve(endpoint.host, endpoint.port, ec);
  if (!ec) asio::connect(socket, results, ec);
  if (ec) {
    error = "connect to " + endpoint.host + ":" + endpoint.port + ": " + ec.message();
    return false;
  }
  // Latency matters more than packet count: small requests must not wait for Nagle.
  socket.set_option(tcp::no_delay(true), ec);
  return true;
}

bool HandshakeTls(const Endpoint& endpoint, tcp::socket& socket,
                  std::unique_ptr<asio::ssl::stream<tcp::socket&>>& tls, std::string& error) {
  tls = std::make_unique<asio::ssl::stream<tcp::socket&>>(socket, *endpoint.tls);
  boost::system::error_code not_ip;
  asio::ip::make_address(endpoint.host, not_ip);
  // SNI is for names only (RFC 6066); the certificate is checked for the name or address.
  if (not_ip) SSL_set_tlsext_host_name(tls->native_handle(), endpoint.host.c_str());
  tls->set_verify_callback(asio::ssl::host_name_verification(endpoint.host));
  boost::system::error_code ec;
  tls->handshake(asio::ssl::stream_base::client, ec);
  if (ec) {
    error = "TLS handshake with " + endpoint.host + ":" + endpoint.port + ": " + ec.message();
    return false;
  }
  return true;
}

bool HttpConnection::Connect(std::string& error) {
  if (!ConnectTcp(endpoint_, socket_, error)) {
    Close();
    return false;
  }
  native_fd_.store(socket_.native_handle());
  if (aborted_.load()) {
    error = "aborted";
    Close();
    return false;
  }
  if (endpoint_.tls && !HandshakeTls(endpoint_, socket_, tls_, error)) {
    Close();
    return false;
  }
  return true;
}

void HttpConnection::Close() {
  native_fd_.store(-1);
  // No close_notify: the server sees the TCP close, and a run's end needs no TLS goodbye.
  tls_.reset();
  boost::system::error_code ignored;  // Closing a broken socket may fail; it is gone anyway.
  socket_.close(ignored);
  buffer_.clear();
}

void HttpConnection::Abort() {
  aborted_.store(true);
  int fd = native_fd_.load();
  // shutdown (not close) so the fd is not reused while the owner still holds it.
  if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
}

bool HttpConnection::RoundTrip(std::string_view raw_request, HttpResponse& out,
                               std::string& error) {
  return RoundTrip(raw_request, std::string_view(), out, error);
}

bool HttpConnection::RoundTrip(std::string_view head, std::string_view body, HttpResponse& out,
                               std::string& error) {
  if (aborted_.load()) {
    error = "aborted";
    return false;
  }
  if (!socket_.is_open() && !Connect(error)) return false;
  return tls_ ? Exchange(*tls_, head, body, out, error) : Exchange(socket_, head, body, out, error);
}

template <typename Stream>
bool HttpConnection::Exchange(Stream& stream, std::string_view head, std::string_view body,
                              HttpResponse& out, std::string& error) {
  boost::system::error_code ec;
  const std::array<asio::const_buffer, 2> parts = {asio::buffer(head.data(), head.size()),
                                                   asio::buffer(body.data(), body.size())};
  asio::write(stream, parts, ec);
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxResponseBytes);
  // The body is read into the caller's previous buffer: replay answers are ~14 MB, and a fresh
  // one each time costs the generator a page fault per 4 KiB.
  parser.get().body() = std::move(out.body);
  parser.get().body().clear();
  // Beast receives at most the read buffer's free capacity at a time (at least 512 bytes).
  if (buffer_.capacity() < kReadBufferBytes) buffer_.reserve(kReadBufferBytes);
  if (!ec) http::read(stream, buffer_, parser, ec);
  if (ec) {
    error = "HTTP exchange with " + endpoint_.host + ":" + endpoint_.port + ": " + ec.message();
    Close();
    return false;
  }
  auto& response = parser.get();
  out.status = response.result_int();
  out.body = std::move(response.body());
  if (!response.keep_alive()) Close();
  return true;
}

bool HttpConnection::Get(std::string_view target, HttpResponse& out, std::string& error) {
  const std::string host = endpoint_.host + ":" + endpoint_.port;
  std::string request = "GET ";
  request += target;
  request += " HTTP/1.1\r\nHost: " + host +
             "\r\nUser-Agent: tideline-loadgen\r\nConnection: keep-alive\r\n";
  request += SignatureLines(endpoint_, "GET", target, host, "", "", "");
  request += "\r\n";
  return RoundTrip(request, out, error);
}

}  // namespace tideline::loadgen
