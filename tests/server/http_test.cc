// One real HTTP exchange: Server::Start on port 0 and a small Beast client.
#include <sstream>

#include <fmt/format.h>
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
  void StartServer(size_t max_body_bytes = 4096) {
    ServerOptions o;
    o.port = 0;
    o.max_body_bytes = max_body_bytes;
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

// Bodies larger than the read buffer, a second request pipelined behind the first in the same
// write, and a chunked body: each is read whole and answered in order on one connection.
TEST_F(HttpTest, LargePipelinedAndChunkedBodiesAreReadWhole) {
  StartServer(8u << 20);
  ASSERT_EQ(Post("CreateStream", R"({"StreamName":"big","ShardCount":1})").result_int(), 200);
  std::string records;
  for (int i = 0; i < 300; ++i) {
    // 1,368 base64 characters (1 KiB of data) per record: ~420 KB of body.
    records += fmt::format(R"({}{{"Data":"{}","PartitionKey":"k{}"}})", i ? "," : "",
                           std::string(1368, static_cast<char>('A' + i % 26)), i);
  }
  http::request<http::string_body> big{http::verb::post, "/", 11};
  big.set(http::field::host, "localhost");
  big.set("X-Amz-Target", "Kinesis_20131202.PutRecords");
  big.body() = R"({"StreamName":"big","Records":[)" + records + "]}";
  big.prepare_payload();
  http::request<http::string_body> small{http::verb::post, "/", 11};
  small.set(http::field::host, "localhost");
  small.set("X-Amz-Target", "Kinesis_20131202.PutRecord");
  small.body() = R"({"StreamName":"big","Data":"aGk=","PartitionKey":"p"})";
  small.prepare_payload();
  std::ostringstream wire;
  wire << big << small;
  net::write(stream_.socket(), net::buffer(wire.str()));

  http::response<http::string_body> first, second;
  http::read(stream_, buffer_, first);
  http::read(stream_, buffer_, second);
  ASSERT_EQ(first.result_int(), 200) << first.body().substr(0, 300);
  EXPECT_NE(first.body().find(R"("FailedRecordCount":0)"), std::string::npos);
  ASSERT_EQ(second.result_int(), 200) << second.body();
  EXPECT_NE(second.body().find("\"SequenceNumber\""), std::string::npos);

  // Chunked transfer encoding: the body is reassembled before the API sees it.
  const std::string body = R"({"StreamName":"big","Data":"Y2h1bmtlZA==","PartitionKey":"c"})";
  const std::string chunked = fmt::format(
      "POST / HTTP/1.1\r\nHost: localhost\r\nX-Amz-Target: Kinesis_20131202.PutRecord\r\n"
      "Transfer-Encoding: chunked\r\n\r\n{:x}\r\n{}\r\n{:x}\r\n{}\r\n0\r\n\r\n",
      10, body.substr(0, 10), body.size() - 10, body.substr(10));
  net::write(stream_.socket(), net::buffer(chunked));
  http::response<http::string_body> third;
  http::read(stream_, buffer_, third);
  ASSERT_EQ(third.result_int(), 200) << third.body();

  // Everything arrived in order: 300 + 1 + 1 records, the last two with their own bytes.
  auto it = Post("GetShardIterator", R"({"StreamName":"big","ShardId":"shardId-000000000000",)"
                                     R"("ShardIteratorType":"TRIM_HORIZON"})");
  ASSERT_EQ(it.result_int(), 200) << it.body();
  rapidjson::Document it_doc;
  it_doc.Parse(it.body().c_str());
  ASSERT_TRUE(it_doc.IsObject() && it_doc.HasMember("ShardIterator")) << it.body();
  auto got = Post("GetRecords", fmt::format(R"({{"ShardIterator":"{}","Limit":10000}})",
                                            it_doc["ShardIterator"].GetString()));
  ASSERT_EQ(got.result_int(), 200) << got.body().substr(0, 300);
  rapidjson::Document doc;
  doc.Parse(got.body().c_str());
  ASSERT_TRUE(doc.IsObject() && doc.HasMember("Records")) << got.body().substr(0, 300);
  const auto& recs = doc["Records"];
  ASSERT_EQ(recs.Size(), 302u);
  EXPECT_EQ(std::string(recs[0]["Data"].GetString()), std::string(1368, 'A'));
  EXPECT_EQ(std::string(recs[299]["PartitionKey"].GetString()), "k299");
  EXPECT_EQ(std::string(recs[300]["Data"].GetString()), "aGk=");
  EXPECT_EQ(std::string(recs[301]["Data"].GetString()), "Y2h1bmtlZA==");
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
