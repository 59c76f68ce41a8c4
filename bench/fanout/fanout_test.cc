// Unit tests of the fan-out benchmark's parts: record ids in base64, the batch template, the
// event payload scan, and the SubscribeToShard client against a scripted HTTP/1.1 server.
#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

#include "common/base64.h"
#include "common/event_stream.h"
#include "fanout_options.h"
#include "producer.h"
#include "record_ids.h"
#include "shard_reader.h"
#include "subscription.h"

namespace tideline::fanout {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

TEST(RecordIds, RoundTripThroughBase64) {
  for (uint64_t id :
       {uint64_t{0}, uint64_t{1}, uint64_t{0xabcdef}, uint64_t{1} << 40, ~uint64_t{0}}) {
    char text[kIdBase64Chars];
    WriteRecordIdBase64(id, text);
    EXPECT_EQ(ReadRecordIdBase64(std::string_view(text, kIdBase64Chars)), id);
    // The 24 characters are the base64 of the id's 18 hex digits.
    auto decoded = Base64Decode(std::string_view(text, kIdBase64Chars));
    ASSERT_TRUE(decoded);
    EXPECT_EQ(decoded->size(), kIdBytes);
  }
}

TEST(RecordIds, RejectsWhatIsNotAnId) {
  EXPECT_EQ(ReadRecordIdBase64(""), std::nullopt);
  EXPECT_EQ(ReadRecordIdBase64("MDAw"), std::nullopt);  // too short
  // 18 bytes that are not hex digits.
  EXPECT_EQ(ReadRecordIdBase64(Base64Encode(std::string(18, 'z'))), std::nullopt);
  // Not base64.
  EXPECT_EQ(ReadRecordIdBase64(std::string(24, '*')), std::nullopt);
}

FanoutOptions SmallOptions() {
  FanoutOptions options;
  options.stream = "s";
  options.batch = 7;
  options.record_size = 50;
  return options;
}

TEST(BatchTemplate, PatchedRecordsCarryTheirIdsAndSize) {
  BatchTemplate batch = BuildBatchTemplate(SmallOptions(), 1);
  PatchIds(batch, 1000);
  rapidjson::Document doc;
  doc.Parse(batch.body.data(), batch.body.size());
  ASSERT_FALSE(doc.HasParseError());
  EXPECT_STREQ(doc["StreamName"].GetString(), "s");
  const auto& records = doc["Records"].GetArray();
  ASSERT_EQ(records.Size(), 7u);
  for (rapidjson::SizeType i = 0; i < records.Size(); ++i) {
    auto data = Base64Decode(records[i]["Data"].GetString());
    ASSERT_TRUE(data);
    EXPECT_EQ(data->size(), 50u);
    EXPECT_EQ(std::stoull(data->substr(0, kIdBytes), nullptr, 16), 1000 + i);
  }
  std::vector<uint64_t> ids;
  EventRecords scan = ForEachRecordId(batch.body, [&](uint64_t id) { ids.push_back(id); });
  EXPECT_EQ(scan.records, 7u);
  EXPECT_EQ(scan.unreadable, 0u);
  EXPECT_EQ(ids, (std::vector<uint64_t>{1000, 1001, 1002, 1003, 1004, 1005, 1006}));
  // Patching again changes only the ids.
  PatchIds(batch, 5);
  ids.clear();
  (void)ForEachRecordId(batch.body, [&](uint64_t id) { ids.push_back(id); });
  EXPECT_EQ(ids.front(), 5u);
  EXPECT_EQ(ids.back(), 11u);
}

TEST(EventScan, ReadsEscapedSlashesAndCountsUnreadableRecords) {
  char id[kIdBase64Chars];
  WriteRecordIdBase64(42, id);
  std::string escaped;
  for (char c : std::string_view(id, kIdBase64Chars)) {
    if (c == '/') escaped += '\\';
    escaped += c;
  }
  const std::string payload = R"({"Records":[{"SequenceNumber":"1","Data":")" + escaped +
                              R"(YWJj","PartitionKey":"Data"},{"Data":"Zm9v"},{"Data":null},)"
                              R"({"Data":"\u0041"}],"ContinuationSequenceNumber":"9",)"
                              R"("MillisBehindLatest":0})";
  std::vector<uint64_t> ids;
  EventRecords scan = ForEachRecordId(payload, [&](uint64_t v) { ids.push_back(v); });
  EXPECT_EQ(ids, std::vector<uint64_t>{42});
  // "Zm9v" is too short and "\u0041" is not base64; null is not a Data string.
  EXPECT_EQ(scan.records, 3u);
  EXPECT_EQ(scan.unreadable, 2u);
  // Truncated payloads end the scan without reading past them.
  for (size_t n = 0; n < payload.size(); ++n) {
    EventRecords part = ForEachRecordId(std::string_view(payload).substr(0, n), [](uint64_t) {});
    EXPECT_LE(part.records, 3u);
  }
}

TEST(FanoutOptions, ValidatesRanges) {
  FanoutOptions options = SmallOptions();
  EXPECT_EQ(ValidateFanoutOptions(options), "");
  options.record_size = 17;
  EXPECT_NE(ValidateFanoutOptions(options), "");
  options = SmallOptions();
  options.consumers = 21;
  EXPECT_NE(ValidateFanoutOptions(options), "");
  options = SmallOptions();
  options.warmup_seconds = options.seconds;
  EXPECT_NE(ValidateFanoutOptions(options), "");
}

TEST(SubscribeBody, HasThePositionAndItsSequenceNumber) {
  rapidjson::Document doc;
  const std::string body =
      SubscribeBody("arn:c", "shardId-000000000000", {"AFTER_SEQUENCE_NUMBER", "123"});
  doc.Parse(body.data(), body.size());
  ASSERT_FALSE(doc.HasParseError()) << body;
  EXPECT_STREQ(doc["ConsumerARN"].GetString(), "arn:c");
  EXPECT_STREQ(doc["ShardId"].GetString(), "shardId-000000000000");
  EXPECT_STREQ(doc["StartingPosition"]["Type"].GetString(), "AFTER_SEQUENCE_NUMBER");
  EXPECT_STREQ(doc["StartingPosition"]["SequenceNumber"].GetString(), "123");
  const std::string latest = SubscribeBody("a", "s", {"LATEST", ""});
  EXPECT_EQ(latest.find("SequenceNumber"), std::string::npos);
}

// ---- the client against a scripted server ---------------------------------------------------

// Serves one scripted raw response per connection, in order, on 127.0.0.1, and keeps each
// request it read.
class ScriptedServer {
 public:
  explicit ScriptedServer(std::vector<std::string> responses)
      : acceptor_(ioc_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)),
        responses_(std::move(responses)) {
    thread_ = std::thread([this] { Serve(); });
  }
  ~ScriptedServer() {
    stopping_.store(true);
    // Wakes the accept (a connection of our own) rather than closing the acceptor under it.
    asio::io_context ioc;
    tcp::socket wake(ioc);
    boost::system::error_code ignored;  // the server may be gone already
    wake.connect(acceptor_.local_endpoint(), ignored);
    thread_.join();
  }

  Endpoint endpoint() const {
    return Endpoint{"127.0.0.1", std::to_string(acceptor_.local_endpoint().port())};
  }
  std::vector<http::request<http::string_body>> requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  void Serve() {
    for (const std::string& response : responses_) {
      boost::system::error_code ec;
      tcp::socket socket(ioc_);
      acceptor_.accept(socket, ec);
      if (ec || stopping_.load()) return;
      boost::beast::flat_buffer buffer;
      http::request<http::string_body> request;
      http::read(socket, buffer, request, ec);
      if (ec) return;
      {
        std::lock_guard lock(mutex_);
        requests_.push_back(request);
      }
      asio::write(socket, asio::buffer(response), ec);
      socket.shutdown(tcp::socket::shutdown_send, ec);
      // Waits for the client to close, so it reads everything first.
      char byte;
      socket.read_some(asio::buffer(&byte, 1), ec);
    }
    // Past the script: connections are closed at once (a client that retries fails fast).
    while (!stopping_.load()) {
      boost::system::error_code ec;
      tcp::socket socket(ioc_);
      acceptor_.accept(socket, ec);
      if (ec) return;
    }
  }

  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  std::vector<std::string> responses_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  std::mutex mutex_;
  std::vector<http::request<http::string_body>> requests_;  // guarded by mutex_
};

std::string Event(std::string_view payload) {
  std::string out;
  eventstream::AppendEvent(out, "SubscribeToShardEvent", "application/json", payload);
  return out;
}

std::string InitialResponse() {
  std::string out;
  eventstream::AppendEvent(out, "initial-response", "application/json", "{}");
  return out;
}

// A 200 event-stream response whose body is `body` cut into chunks of the given sizes (the
// rest in a last chunk), ended with the zero chunk unless `end` is false.
std::string ChunkedResponse(std::string_view body, std::vector<size_t> cuts, bool end = true) {
  std::string out =
      "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.amazon.eventstream\r\n"
      "Transfer-Encoding: chunked\r\n\r\n";
  size_t pos = 0;
  cuts.push_back(body.size());
  for (size_t cut : cuts) {
    const size_t n = std::min(cut, body.size() - pos);
    if (n == 0) continue;
    char size[20];
    std::snprintf(size, sizeof size, "%zx\r\n", n);
    out += size;
    out += body.substr(pos, n);
    out += "\r\n";
    pos += n;
  }
  if (end) out += "0\r\n\r\n";
  return out;
}

std::string Payload(std::string_view continuation) {
  return R"({"Records":[],"ContinuationSequenceNumber":")" + std::string(continuation) +
         R"(","MillisBehindLatest":0})";
}

TEST(Subscription, ReadsEventsAcrossArbitraryChunksUntilTheServerEnds) {
  const std::string body =
      InitialResponse() + Event(Payload("1")) + Event(Payload("2")) + Event(Payload("3"));
  ScriptedServer server({ChunkedResponse(body, {1, 7, 30, 1, 50})});
  Subscription subscription(server.endpoint());
  int opened = 0;
  std::vector<std::string> payloads;
  SubscriptionResult result = subscription.Run(
      SubscribeBody("arn:c", "shardId-000000000000", {}), [&] { ++opened; },
      [&](std::string_view p) {
        payloads.emplace_back(p);
        return true;
      });
  EXPECT_EQ(result.end, SubscriptionResult::End::kEndedByServer) << result.error;
  EXPECT_EQ(opened, 1);
  EXPECT_EQ(payloads, (std::vector<std::string>{Payload("1"), Payload("2"), Payload("3")}));
  EXPECT_EQ(result.events, 4u);
  EXPECT_EQ(result.body_bytes, body.size());
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0]["X-Amz-Target"], "Kinesis_20131202.SubscribeToShard");
  EXPECT_EQ(requests[0].body(), SubscribeBody("arn:c", "shardId-000000000000", {}));
}

TEST(Subscription, StopsWhenTheCallbackSaysSo) {
  const std::string body = Event(Payload("1")) + Event(Payload("2"));
  ScriptedServer server({ChunkedResponse(body, {})});
  Subscription subscription(server.endpoint());
  int events = 0;
  SubscriptionResult result = subscription.Run("{}", nullptr, [&](std::string_view) {
    ++events;
    return false;
  });
  EXPECT_EQ(result.end, SubscriptionResult::End::kStopped);
  EXPECT_EQ(events, 1);
}

TEST(Subscription, ReportsARefusalWithItsType) {
  const std::string error_body = R"({"__type":"ResourceInUseException","message":"consumer busy"})";
  ScriptedServer server(
      {"HTTP/1.1 400 Bad Request\r\nContent-Type: application/x-amz-json-1.1\r\n"
       "Content-Length: " +
       std::to_string(error_body.size()) + "\r\n\r\n" + error_body});
  Subscription subscription(server.endpoint());
  SubscriptionResult result = subscription.Run("{}", nullptr, [](std::string_view) {
    ADD_FAILURE() << "no event expected";
    return true;
  });
  EXPECT_EQ(result.end, SubscriptionResult::End::kRefused);
  EXPECT_EQ(result.error_type, "ResourceInUseException");
  EXPECT_NE(result.error.find("consumer busy"), std::string::npos) << result.error;
}

TEST(Subscription, FailsOnExceptionEventsAndBrokenStreams) {
  std::string exception;
  eventstream::AppendException(exception, "InternalFailure", "application/json",
                               R"({"message":"disk trouble"})");
  std::string corrupt = Event(Payload("1"));
  corrupt[corrupt.size() - 1] ^= 1;  // the message CRC
  const std::string whole = Event(Payload("1"));
  ScriptedServer server({
      ChunkedResponse(Event(Payload("1")) + exception, {}),
      ChunkedResponse(corrupt, {}),
      ChunkedResponse(whole.substr(0, whole.size() - 3), {}),  // ends inside a message
      ChunkedResponse(whole, {}, /*end=*/false),               // the connection just closes
      "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(whole.size()) + "\r\n\r\n" + whole,
  });
  Subscription subscription(server.endpoint());
  auto run = [&] { return subscription.Run("{}", nullptr, [](std::string_view) { return true; }); };
  SubscriptionResult result = run();
  EXPECT_EQ(result.end, SubscriptionResult::End::kFailed);
  EXPECT_EQ(result.error_type, "InternalFailure");
  EXPECT_NE(result.error.find("disk trouble"), std::string::npos) << result.error;
  for (const char* what : {"CRC", "inside", "body", "not chunked"}) {
    result = run();
    EXPECT_EQ(result.end, SubscriptionResult::End::kFailed) << what;
    EXPECT_FALSE(result.error.empty()) << what;
  }
}

TEST(ShardReader, RenewsAfterTheLastContinuationSequenceNumber) {
  ScriptedServer server({
      ChunkedResponse(InitialResponse() + Event(Payload("41")) + Event(Payload("42")), {}),
      ChunkedResponse(InitialResponse() + Event(Payload("43")), {}),
  });
  ShardReader reader(server.endpoint(), "arn:c", "shardId-000000000000");
  int events = 0;
  ShardReaderStats stats =
      reader.Run({"TRIM_HORIZON", ""}, nullptr, [&](std::string_view) { return ++events < 3; });
  EXPECT_EQ(stats.error, "");
  EXPECT_EQ(stats.subscriptions, 2u);
  EXPECT_EQ(stats.renewals, 1u);
  EXPECT_EQ(stats.events, 3u);
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].body(),
            SubscribeBody("arn:c", "shardId-000000000000", {"TRIM_HORIZON", ""}));
  EXPECT_EQ(requests[1].body(),
            SubscribeBody("arn:c", "shardId-000000000000", {"AFTER_SEQUENCE_NUMBER", "42"}));
}

TEST(ShardReader, GivesUpOnARefusalThatARetryCannotFix) {
  const std::string error_body = R"({"__type":"ResourceNotFoundException","message":"no such"})";
  ScriptedServer server({"HTTP/1.1 400 Bad Request\r\nContent-Length: " +
                         std::to_string(error_body.size()) + "\r\n\r\n" + error_body});
  ShardReader reader(server.endpoint(), "arn:c", "shardId-000000000000");
  ShardReaderStats stats =
      reader.Run({"LATEST", ""}, nullptr, [](std::string_view) { return true; });
  EXPECT_NE(stats.error.find("ResourceNotFoundException"), std::string::npos) << stats.error;
  EXPECT_EQ(stats.subscriptions, 0u);
  EXPECT_EQ(stats.retries, 0u);
}

}  // namespace
}  // namespace tideline::fanout
