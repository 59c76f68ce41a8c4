// SubscribeToShard over a real HTTP/1.1 connection: Server::Start on port 0 and a Beast client
// that reads the chunked event stream as boto3 does.
#include <chrono>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "common/event_stream.h"
#include "handler_fixture.h"
#include "server/server.h"
#include "test_util/time_factor.h"

namespace tideline::server {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;

class HttpStreamTest : public HandlerTest {
 protected:
  void StartServer(std::chrono::milliseconds duration) {
    ServerOptions o;
    o.port = 0;
    o.status_delay = 0ms;
    o.subscription_duration = duration;
    auto s = Server::Start(o, *store_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(*s);
  }
  void TearDown() override {
    if (server_) server_->Stop();
  }

  struct Connection {
    net::io_context ioc;
    beast::tcp_stream stream{ioc};
    beast::flat_buffer buffer;
  };
  std::unique_ptr<Connection> Connect() {
    auto c = std::make_unique<Connection>();
    c->stream.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), server_->port()));
    c->stream.expires_after(testing::Scaled(std::chrono::seconds(20)));  // a hang fails the test
    return c;
  }

  static void Send(Connection& c, const std::string& op, const std::string& body) {
    http::request<http::string_body> req{http::verb::post, "/", 11};
    req.set(http::field::host, "localhost");
    req.set(http::field::content_type, "application/x-amz-json-1.1");
    req.set("X-Amz-Target", "Kinesis_20131202." + op);
    req.body() = body;
    req.prepare_payload();
    http::write(c.stream, req);
  }
  static http::response<http::string_body> Call(Connection& c, const std::string& op,
                                                const std::string& body) {
    Send(c, op, body);
    http::response<http::string_body> res;
    http::read(c.stream, c.buffer, res);
    return res;
  }

  // A stream "s" of one shard with records and an ACTIVE consumer; its ARN.
  std::string Prepare(Connection& c, int records) {
    EXPECT_EQ(Call(c, "CreateStream", R"({"StreamName":"s","ShardCount":1})").result_int(), 200);
    for (int i = 0; i < records; ++i) {
      EXPECT_EQ(Call(c, "PutRecord",
                     fmt::format(R"({{"StreamName":"s","Data":"{}","PartitionKey":"k"}})",
                                 i % 2 ? "aGk=" : "eW8="))
                    .result_int(),
                200);
    }
    auto r = Call(c, "RegisterStreamConsumer",
                  R"({"StreamARN":"arn:aws:kinesis:us-east-1:123456789012:stream/s",)"
                  R"("ConsumerName":"c"})");
    EXPECT_EQ(r.result_int(), 200) << r.body();
    rapidjson::Document d;
    d.Parse(r.body().c_str());
    return d["Consumer"]["ConsumerARN"].GetString();
  }

  static std::string SubscribeBody(const std::string& arn) {
    return R"({"ConsumerARN":")" + arn +
           R"(","ShardId":"shardId-000000000000","StartingPosition":{"Type":"TRIM_HORIZON"}})";
  }

  // The whole messages in `body`; a `complete` body must not end inside one.
  static std::vector<eventstream::Message> Decode(std::string_view body, bool complete = true) {
    eventstream::Decoder decoder;
    std::vector<eventstream::Message> out;
    const Status s = decoder.Feed(body, &out);
    EXPECT_TRUE(s.ok()) << s.ToString();
    if (complete) {
      EXPECT_EQ(decoder.buffered(), 0u) << "a message was cut";
    }
    return out;
  }

  std::unique_ptr<Server> server_;
};

TEST_F(HttpStreamTest, EventsArriveAsChunksAndTheConnectionServesTheNextRequest) {
  StartServer(300ms);
  auto c = Connect();
  const std::string arn = Prepare(*c, 3);
  Send(*c, "SubscribeToShard", SubscribeBody(arn));
  http::response_parser<http::string_body> parser;
  parser.body_limit(64u << 20);
  http::read_header(c->stream, c->buffer, parser);
  const auto& header = parser.get();
  EXPECT_EQ(header.result_int(), 200);
  EXPECT_EQ(header[http::field::content_type], "application/vnd.amazon.eventstream");
  EXPECT_TRUE(parser.chunked());
  EXPECT_EQ(header["x-amzn-RequestId"].size(), 36u);
  // The body ends when the subscription's duration is up.
  http::read(c->stream, c->buffer, parser);
  ASSERT_TRUE(parser.is_done());
  EXPECT_TRUE(parser.keep_alive());
  const auto messages = Decode(parser.get().body());
  ASSERT_GE(messages.size(), 2u);
  EXPECT_EQ(messages[0].Header(":event-type"), "initial-response");
  rapidjson::Document event;
  event.Parse(messages[1].payload.c_str());
  ASSERT_TRUE(event.IsObject()) << messages[1].payload;
  EXPECT_EQ(event["Records"].Size(), 3u);
  // Keep-alive: the same connection takes the next request.
  auto next = Call(*c, "ListStreams", "{}");
  EXPECT_EQ(next.result_int(), 200) << next.body();
}

TEST_F(HttpStreamTest, ClientClosingTheConnectionEndsTheSubscriptionAtOnce) {
  StartServer(300'000ms);
  auto c = Connect();
  const std::string arn = Prepare(*c, 1);
  auto sub = Connect();
  Send(*sub, "SubscribeToShard", SubscribeBody(arn));
  http::response_parser<http::string_body> parser;
  http::read_header(sub->stream, sub->buffer, parser);
  while (Decode(parser.get().body(), /*complete=*/false).size() < 2)
    http::read_some(sub->stream, sub->buffer, parser);
  sub->stream.socket().close();
  // The server sees the close without writing anything (its next heartbeat is seconds away),
  // and the consumer's pair is free again: a new subscription is not refused (once the call
  // rate allows it).
  const auto deadline = std::chrono::steady_clock::now() + testing::Scaled(10s);
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    auto again = Connect();
    Send(*again, "SubscribeToShard", SubscribeBody(arn));
    http::response_parser<http::string_body> p;
    http::read_header(again->stream, again->buffer, p);
    status = p.get().result_int();
    if (status == 200) break;
    // Refused while the server has not yet seen the close, or within the second that one call
    // per consumer and shard is allowed.
    const std::string type(p.get()["x-amzn-ErrorType"]);
    EXPECT_TRUE(type == "ResourceInUseException" || type == "LimitExceededException") << type;
  }
  EXPECT_EQ(status, 200);
}

TEST_F(HttpStreamTest, StopEndsLiveSubscriptions) {
  StartServer(300'000ms);
  auto c = Connect();
  const std::string arn = Prepare(*c, 1);
  Send(*c, "SubscribeToShard", SubscribeBody(arn));
  http::response_parser<http::string_body> parser;
  http::read_header(c->stream, c->buffer, parser);
  while (Decode(parser.get().body(), /*complete=*/false).size() < 2)
    http::read_some(c->stream, c->buffer, parser);
  server_->Stop();  // returns although the subscription had minutes to go
  // ... after the stream's last chunk went out: the client sees a complete body.
  beast::error_code ec;
  while (!ec && !parser.is_done())
    http::read_some(c->stream, c->buffer, parser, ec);
  EXPECT_TRUE(parser.is_done()) << ec.message();
  EXPECT_EQ(Decode(parser.get().body()).size(), 2u);
}

}  // namespace
}  // namespace tideline::server
