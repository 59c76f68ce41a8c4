#include "lambda_test_server.h"

#include <sys/socket.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <map>

#include <rapidjson/document.h>

#include "common/base64.h"
#include "test_util/time_factor.h"

namespace tideline::pipeline::lambda_test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct LambdaTestServer::Impl {
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc};
  // Sockets of live sessions by session index, GUARDED_BY(LambdaTestServer::mu_). A session
  // erases its entry (under the mutex) before its socket closes, so the destructor's
  // shutdown() never reaches a reused descriptor.
  std::map<int, std::unique_ptr<tcp::socket>> sockets;
};

LambdaTestServer::LambdaTestServer() : impl_(std::make_unique<Impl>()) {
  const tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
  impl_->acceptor.open(endpoint.protocol());
  impl_->acceptor.set_option(asio::socket_base::reuse_address(true));
  impl_->acceptor.bind(endpoint);
  impl_->acceptor.listen();
  port_ = impl_->acceptor.local_endpoint().port();
  acceptor_thread_ = std::thread([this] { AcceptLoop(); });
}

LambdaTestServer::~LambdaTestServer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  // shutdown() on the listening socket wakes the blocked accept() (Linux: EINVAL).
  ::shutdown(impl_->acceptor.native_handle(), SHUT_RDWR);
  acceptor_thread_.join();
  std::vector<std::thread> sessions;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [index, socket] : impl_->sockets)
      ::shutdown(socket->native_handle(), SHUT_RDWR);  // wakes the blocked read
    sessions.swap(session_threads_);
  }
  for (std::thread& t : sessions)
    t.join();
}

void LambdaTestServer::SetHandler(Handler handler) {
  std::lock_guard<std::mutex> lock(mu_);
  handler_ = std::move(handler);
}

std::string LambdaTestServer::url() const {
  return "http://127.0.0.1:" + std::to_string(port_) + "/";
}

std::vector<HttpRequest> LambdaTestServer::requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

size_t LambdaTestServer::request_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_.size();
}

size_t LambdaTestServer::connection_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return connections_;
}

bool LambdaTestServer::WaitForRequests(size_t n, std::chrono::milliseconds max) const {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, tideline::testing::Scaled(max), [&] { return requests_.size() >= n; });
}

void LambdaTestServer::Stall(std::chrono::milliseconds max) const {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, max, [&] { return stopping_; });
}

void LambdaTestServer::AcceptLoop() {
  for (int index = 0;; ++index) {
    auto socket = std::make_unique<tcp::socket>(impl_->ioc);
    boost::system::error_code ec;
    impl_->acceptor.accept(*socket, ec);
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    if (ec) continue;
    ++connections_;
    impl_->sockets.emplace(index, std::move(socket));
    session_threads_.emplace_back([this, index] { Serve(index); });
  }
}

void LambdaTestServer::Serve(int index) {
  tcp::socket* socket;
  {
    std::lock_guard<std::mutex> lock(mu_);
    socket = impl_->sockets.at(index).get();
  }
  beast::flat_buffer buffer;
  while (true) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(64u << 20);
    boost::system::error_code ec;
    http::read(*socket, buffer, parser, ec);
    if (ec) break;  // the client closed the connection, or the server is stopping
    const http::request<http::string_body>& req = parser.get();
    HttpRequest recorded;
    recorded.method = std::string(req.method_string());
    recorded.target = std::string(req.target());
    recorded.content_type = std::string(req[http::field::content_type]);
    recorded.body = req.body();
    Handler handler;
    {
      std::lock_guard<std::mutex> lock(mu_);
      requests_.push_back(recorded);
      handler = handler_;
    }
    cv_.notify_all();
    HttpResponse out;
    if (handler) {
      out = handler(recorded);
    } else {
      out.status = 500;
    }
    http::response<http::string_body> res{static_cast<http::status>(out.status), req.version()};
    res.set(http::field::content_type, out.content_type);
    res.keep_alive(req.keep_alive());
    res.body() = std::move(out.body);
    res.prepare_payload();
    http::write(*socket, res, ec);
    if (ec || !res.keep_alive()) break;
  }
  std::lock_guard<std::mutex> lock(mu_);
  impl_->sockets.erase(index);  // closes the socket
}

std::vector<SentRecord> RecordsOf(std::string_view request_body) {
  rapidjson::Document doc;
  doc.Parse(request_body.data(), request_body.size());
  std::vector<SentRecord> out;
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("records")) return out;
  for (const auto& r : doc["records"].GetArray()) {
    out.push_back(
        {r["recordId"].GetString(), Base64Decode(r["data"].GetString()).value_or("<bad base64>")});
  }
  return out;
}

std::string ResponseJson(const std::vector<Entry>& entries) {
  std::string out = "{\"records\":[";
  for (const Entry& e : entries) {
    if (out.back() != '[') out += ',';
    out += "{\"recordId\":\"" + e.id + "\",\"result\":\"" + e.result + "\"";
    if (e.data) out += ",\"data\":\"" + Base64Encode(*e.data) + "\"";
    out += '}';
  }
  return out + "]}";
}

LambdaTestServer::Handler Transform(std::function<Entry(const SentRecord&)> f) {
  return [f = std::move(f)](const HttpRequest& req) {
    std::vector<Entry> entries;
    for (const SentRecord& r : RecordsOf(req.body))
      entries.push_back(f(r));
    return HttpResponse{200, ResponseJson(entries)};
  };
}

Entry Upper(const SentRecord& r) {
  std::string data = r.data;
  for (char& c : data)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return {r.id, "Ok", data};
}

}  // namespace tideline::pipeline::lambda_test
