// One real HTTP exchange: Server::Start on port 0 and a small Beast client.
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "handler_fixture.h"
#include "server/server.h"

namespace tideline::server {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

class HttpTest : public HandlerTest {
 protected:
  void StartServer() {
    ServerOptions o;
    o.port = 0;
    o.max_body_bytes = 4096;
    auto s = Server::Start(o, *store_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(*s);
    ASSERT_NE(server_->port(), 0);
    stream_.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), server_->port()));
  }
  void TearDown() override {
    beast::error_code ec;
    stream_.socket().close(ec);  // ignorable: the server may have closed it already
    if (server_) server_->Stop();
  }

  http::response<http::string_body> Post(const std::string& op, const std::string& body) {
    http::request<http::string_body> req{http::verb::post, "/", 11};
    req.set(http::field::host, "localhost");
    req.set(http::field::content_type, "application/x-amz-json-1.1");
    req.set("X-Amz-Target", "Kinesis_20131202." + op);
    req.set(http::field::authorization, "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/...");
    req.body() = body;
    req.prepare_payload();
    return Exchange(req);
  }

  http::response<http::string_body> Get(const std::string& target) {
    http::request<http::string_body> req{http::verb::get, target, 11};
    req.set(http::field::host, "localhost");
    return Exchange(req);
  }

  http::response<http::string_body> Exchange(http::request<http::string_body>& req) {
    http::write(stream_, req);
    http::response<http::string_body> res;
    http::read(stream_, buffer_, res);
    return res;
  }

  net::io_context ioc_;
  beast::tcp_stream stream_{ioc_};
  beast::flat_buffer buffer_;
  std::unique_ptr<Server> server_;
};

TEST_F(HttpTest, ServesKinesisCallsOnOneKeepAliveConnection) {
  StartServer();
  auto created = Post("CreateStream", R"({"StreamName":"web","ShardCount":1})");
  EXPECT_EQ(created.result_int(), 200) << created.body();
  EXPECT_EQ(created["x-amzn-RequestId"].size(), 36u);
  EXPECT_TRUE(created.keep_alive());

  auto put = Post("PutRecord", R"({"StreamName":"web","Data":"aGk=","PartitionKey":"p"})");
  EXPECT_EQ(put.result_int(), 200) << put.body();
  EXPECT_NE(put.body().find("\"SequenceNumber\""), std::string::npos);

  auto missing = Post("DescribeStream", R"({"StreamName":"nope"})");
  EXPECT_EQ(missing.result_int(), 400);
  EXPECT_EQ(missing["x-amzn-ErrorType"], "ResourceNotFoundException");
  EXPECT_NE(missing.body().find(R"("__type":"ResourceNotFoundException")"), std::string::npos);

  auto unknown = Post("Frobnicate", "{}");
  EXPECT_EQ(unknown["x-amzn-ErrorType"], "UnknownOperationException");

  auto health = Get("/health");
  EXPECT_EQ(health.result_int(), 200);
  EXPECT_EQ(health.body(), "ok");
  auto metrics = Get("/metrics");
  EXPECT_EQ(metrics.result_int(), 200);
  EXPECT_NE(metrics.body().find(R"(operation="PutRecord",error="none"} 1)"), std::string::npos)
      << metrics.body();
}

TEST_F(HttpTest, BodyOverTheLimitGets413AndTheConnectionCloses) {
  StartServer();
  auto res = Post("PutRecord", R"({"StreamName":"web","Data":")" + std::string(5000, 'A') +
                                   R"(","PartitionKey":"p"})");
  EXPECT_EQ(res.result_int(), 413);
  EXPECT_FALSE(res["x-amzn-ErrorType"].empty());
  EXPECT_NE(res.body().find("\"__type\""), std::string::npos) << res.body();
  EXPECT_FALSE(res.keep_alive());
  // The server closes after the 413: the next read sees end of stream.
  http::response<http::string_body> next;
  beast::error_code ec;
  http::read(stream_, buffer_, next, ec);
  EXPECT_TRUE(ec) << "connection should be closed";
}

TEST_F(HttpTest, LargeBodyOverTheLimitStillGetsThe413) {
  StartServer();
  // Much more than the socket buffers hold: the server must answer while the client is still
  // sending, and must not reset the connection before the client reads the answer.
  http::request<http::string_body> req{http::verb::post, "/", 11};
  req.set(http::field::host, "localhost");
  req.set("X-Amz-Target", "Kinesis_20131202.PutRecord");
  req.body() = std::string(8u << 20, 'A');
  req.prepare_payload();
  beast::error_code ec;
  http::write(stream_, req, ec);  // may fail once the server stops reading; the answer matters
  http::response<http::string_body> res;
  http::read(stream_, buffer_, res, ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(res.result_int(), 413);
}

TEST_F(HttpTest, HealthReports503WithTheStickyWriteError) {
  std::atomic<bool> fail{false};
  OpenStore([&fail] { return fail ? Status::IOError("injected fsync failure") : Status::Ok(); });
  StartServer();
  ASSERT_EQ(Post("CreateStream", R"({"StreamName":"h","ShardCount":1})").result_int(), 200);
  fail = true;
  auto put = Post("PutRecord", R"({"StreamName":"h","Data":"aGk=","PartitionKey":"p"})");
  EXPECT_EQ(put.result_int(), 500);
  EXPECT_EQ(put["x-amzn-ErrorType"], "InternalFailure");
  auto health = Get("/health");
  EXPECT_EQ(health.result_int(), 503);
  EXPECT_NE(health.body().find("injected fsync failure"), std::string::npos) << health.body();
  EXPECT_EQ(health["x-amzn-RequestId"].size(), 36u);
  EXPECT_NE(Get("/metrics").body().find("tideline_store_healthy 0"), std::string::npos);
}

}  // namespace
}  // namespace tideline::server
