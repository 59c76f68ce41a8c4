// HTTP/2 through a real Server on loopback: h2c with prior knowledge beside HTTP/1.1 on one
// port, the answers of the real handlers, /metrics, and a flood that ends the connection.
#include <sys/socket.h>

#include <chrono>
#include <string>

#include <fmt/format.h>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "h2_client.h"
#include "handler_fixture.h"
#include "server/server.h"

namespace tideline::server {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using h2test::H2Client;

// An H2Client over a blocking socket; every receive gives up after 30 s so that a broken
// server fails the test instead of hanging it.
class H2Socket {
 public:
  H2Socket(net::io_context& ioc, uint16_t port) : socket_(ioc) {
    socket_.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
    timeval tv{30, 0};
    ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  H2Client& client() { return client_; }

  // Sends what the client has, then reads until `done` holds; false when the server closed
  // the connection (or the read failed) first.
  template <typename Done>
  bool RunUntil(Done done) {
    for (int i = 0; i < 10000; ++i) {
      const std::string out = client_.Output();
      if (!out.empty()) {
        beast::error_code ec;
        net::write(socket_, net::buffer(out), ec);
        if (ec) return false;
      }
      if (done()) return true;
      char buf[16384];
      beast::error_code ec;
      const size_t n = socket_.read_some(net::buffer(buf), ec);
      if (ec) return false;
      client_.Receive(std::string_view(buf, n));
    }
    return false;
  }

  void WriteRaw(std::string_view bytes) {
    beast::error_code ec;  // the server may have closed already; what it answered matters
    net::write(socket_, net::buffer(bytes), ec);
  }

  // True once the server has closed the connection: reads end of stream or a reset (what
  // arrives before is given to the client).
  bool ReadsEof() {
    for (;;) {
      char buf[16384];
      beast::error_code ec;
      const size_t n = socket_.read_some(net::buffer(buf), ec);
      if (ec) return ec == net::error::eof || ec == net::error::connection_reset;
      client_.Receive(std::string_view(buf, n));
    }
  }

 private:
  tcp::socket socket_;
  H2Client client_;
};

class H2ServerTest : public HandlerTest {
 protected:
  void Start() {
    ServerOptions o;
    o.port = 0;
    auto s = Server::Start(o, *store_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(*s);
  }
  void TearDown() override {
    if (server_) server_->Stop();
    HandlerTest::TearDown();
  }

  int32_t Call(H2Socket& s, std::string_view op, const std::string& body) {
    const int32_t id = s.client().Submit("POST", "/",
                                         {{"x-amz-target", "Kinesis_20131202." + std::string(op)},
                                          {"content-type", "application/x-amz-json-1.1"},
                                          {"content-length", std::to_string(body.size())}},
                                         &body);
    EXPECT_TRUE(s.RunUntil([&] { return s.client().response(id).closed; }));
    return id;
  }

  std::string Http11Get(std::string_view target) {
    tcp::socket socket(ioc_);
    socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), server_->port()));
    http::request<http::empty_body> req{http::verb::get,
                                        beast::string_view(target.data(), target.size()), 11};
    req.set(http::field::host, "x");
    http::write(socket, req);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(socket, buffer, res);
    return res.body();
  }

  net::io_context ioc_;
  std::unique_ptr<Server> server_;
};

TEST_F(H2ServerTest, ServesKinesisCallsOverH2cBesideHttp11) {
  Start();
  H2Socket s(ioc_, server_->port());
  const int32_t created = Call(s, "CreateStream", R"({"StreamName":"h2","ShardCount":1})");
  EXPECT_EQ(s.client().response(created).status, 200) << s.client().response(created).body;
  const int32_t put =
      Call(s, "PutRecord", R"({"StreamName":"h2","Data":"aGk=","PartitionKey":"p"})");
  const auto& r = s.client().response(put);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("\"SequenceNumber\""), std::string::npos);
  EXPECT_EQ(r.Header("x-amzn-requestid").size(), 36u);
  const int32_t missing = Call(s, "DescribeStream", R"({"StreamName":"nope"})");
  EXPECT_EQ(s.client().response(missing).Header("x-amzn-errortype"), "ResourceNotFoundException");

  // HTTP/1.1 on the same port, while the HTTP/2 connection is open.
  EXPECT_EQ(Http11Get("/health"), "ok");
  const std::string metrics = Http11Get("/metrics");
  EXPECT_NE(metrics.find("\ntideline_http2_connections_total 1\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("\ntideline_http2_streams_total 3\n"), std::string::npos);
  EXPECT_NE(metrics.find(R"(operation="PutRecord",error="none"} 1)"), std::string::npos);
}

TEST_F(H2ServerTest, AFloodEndsTheConnectionWithEnhanceYourCalm) {
  Start();
  H2Socket s(ioc_, server_->port());
  ASSERT_TRUE(s.RunUntil([&] { return true; }));  // preface and SETTINGS out
  std::string pings;
  for (int i = 0; i < 1000; ++i)
    pings += H2Client::Frame(0x6, 0, 0, "flooding");
  s.WriteRaw(pings);
  EXPECT_TRUE(s.ReadsEof());
  EXPECT_TRUE(s.client().goaway());
  EXPECT_EQ(s.client().goaway_code(), static_cast<uint32_t>(NGHTTP2_ENHANCE_YOUR_CALM));
  const std::string metrics = Http11Get("/metrics");
  EXPECT_NE(metrics.find(R"(tideline_http2_goaway_errors_total{reason="enhance_your_calm"} 1)"),
            std::string::npos)
      << metrics;
  EXPECT_EQ(Http11Get("/health"), "ok");
}

}  // namespace
}  // namespace tideline::server
