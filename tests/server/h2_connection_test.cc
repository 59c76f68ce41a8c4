// H2Connection without sockets: nghttp2's client session (h2_client.h) or hand-made frames on
// one side, the connection on the other, bytes moved by the test, time from a manual clock.
#include "h2_connection.h"

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "api.h"
#include "errors.h"
#include "h2_client.h"

namespace tideline::server {
namespace {

namespace http = boost::beast::http;
using h2test::H2Client;
using Clock = H2Config::Clock;
using namespace std::chrono_literals;

// What on_request delivered, copied out of the call.
struct Seen {
  int32_t id = 0;
  http::verb method = http::verb::unknown;
  std::string target;
  std::string amz_target;
  std::string content_type;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  std::string Header(std::string_view name) const {
    for (const auto& [n, v] : headers) {
      if (boost::beast::iequals(n, boost::beast::string_view(name.data(), name.size()))) return v;
    }
    return {};
  }
};

// An HPACK integer with an N-bit prefix (RFC 7541 5.1), the prefix bits of `first` kept.
void HpackInt(std::string& out, uint8_t first, int prefix_bits, size_t n) {
  const size_t max = (size_t{1} << prefix_bits) - 1;
  if (n < max) {
    out.push_back(static_cast<char>(first | n));
    return;
  }
  out.push_back(static_cast<char>(first | max));
  n -= max;
  while (n >= 128) {
    out.push_back(static_cast<char>(0x80 | (n & 0x7f)));
    n >>= 7;
  }
  out.push_back(static_cast<char>(n));
}

// A header block of "literal without indexing, new name" fields: no dynamic table involved.
std::string Hpack(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  for (const auto& [name, value] : fields) {
    out.push_back('\0');
    HpackInt(out, 0, 7, name.size());
    out += name;
    HpackInt(out, 0, 7, value.size());
    out += value;
  }
  return out;
}

std::string GetHealthBlock() {
  return Hpack(
      {{":method", "GET"}, {":scheme", "http"}, {":path", "/health"}, {":authority", "localhost"}});
}

constexpr uint8_t kData = 0x0, kHeaders = 0x1, kRstStream = 0x3, kSettings = 0x4, kPing = 0x6,
                  kWindowUpdate = 0x8, kContinuation = 0x9;
constexpr uint8_t kEndStream = 0x1, kEndHeaders = 0x4;

std::string U32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

// The error code of the first GOAWAY frame among the server's `frames`, or -1 when none.
int64_t GoawayCode(std::string_view frames) {
  size_t at = 0;
  while (at + 9 <= frames.size()) {
    const auto byte = [&](size_t i) { return static_cast<uint8_t>(frames[at + i]); };
    const size_t length = (size_t{byte(0)} << 16) | (size_t{byte(1)} << 8) | byte(2);
    if (byte(3) == 0x7 && at + 9 + length <= frames.size() && length >= 8) {
      const auto p = [&](size_t i) { return uint32_t{static_cast<uint8_t>(frames[at + 9 + i])}; };
      return (p(4) << 24) | (p(5) << 16) | (p(6) << 8) | p(7);
    }
    at += 9 + length;
  }
  return -1;
}

// A stream producing its body on demand, as SubscribeToShard's will.
class TestBodyStream : public BodyStream {
 public:
  void Start(std::shared_ptr<BodySink> sink) override {
    ++starts;
    this->sink = std::move(sink);
  }
  void Cancel() override {
    ++cancels;
    sink.reset();
  }
  std::shared_ptr<BodySink> sink;
  int starts = 0;
  int cancels = 0;
};

class H2ConnectionTest : public ::testing::Test {
 protected:
  H2ConnectionTest() {
    options_.max_body_bytes = 1u << 20;
    options_.max_inflight_bytes = 64u << 20;
    options_.header_timeout = 10s;
    options_.idle_timeout = 60s;
  }

  void Start(ConnectionGate::Slot slot = ConnectionGate::Slot::kFull,
             H2FloodLimits flood = H2FloodLimits{}) {
    limits_ = std::make_shared<Limits>(10, 2, options_.max_inflight_bytes);
    H2Config c;
    c.options = &options_;
    c.limits = limits_;
    c.slot = slot;
    c.flood = flood;
    c.classify = [](http::verb method, std::string_view target, std::string_view amz_target) {
      if (method == http::verb::get && (target == "/health" || target == "/metrics")) {
        return RouteClass{OperationKind::kOther, true};
      }
      if (method == http::verb::post) return RouteClass{KindOfTarget(amz_target), false};
      return RouteClass{};
    };
    c.on_request = [this](int32_t id, RouterRequest r) {
      Seen s;
      s.id = id;
      s.method = r.method;
      s.target = r.target;
      s.amz_target = r.amz_target;
      s.content_type = r.content_type;
      s.body = r.body ? *r.body : "";
      if (r.headers != nullptr) {
        for (const auto& f : *r.headers) {
          s.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
        }
      }
      seen_.push_back(s);
      if (answer_) conn_->Respond(id, answer_(seen_.back()));
    };
    c.post = [this](std::function<void()> task) { posted_.push_back(std::move(task)); };
    c.now = [this] { return now_; };
    conn_ = std::make_unique<H2Connection>(std::move(c));
  }

  void Feed(std::string_view bytes) {
    conn_->Receive(
        std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
  }

  // Everything the connection has to send now, as if written at once.
  std::string Drain() {
    std::string all;
    for (int i = 0; i < 100000; ++i) {
      const std::string_view out = conn_->Output();
      if (out.empty()) break;
      all.append(out);
      conn_->OutputWritten();
    }
    return all;
  }

  // Moves bytes both ways until neither side has anything to send. Bytes the connection does not
  // want to read yet wait, as in a socket.
  void Exchange(H2Client& client) {
    for (int round = 0; round < 100000; ++round) {
      bool moved = false;
      const std::string out = Drain();
      if (!out.empty()) {
        EXPECT_TRUE(client.Receive(out)) << "the client refused the server's bytes";
        moved = true;
      }
      pending_ += client.Output();
      if (!pending_.empty() && conn_->WantsRead()) {
        Feed(pending_);
        pending_.clear();
        moved = true;
      }
      if (!moved) return;
    }
    ADD_FAILURE() << "the exchange never settles";
  }

  void RunPosted() {
    auto tasks = std::move(posted_);
    posted_.clear();
    for (auto& t : tasks)
      t();
  }

  // The client's preface and SETTINGS, by hand.
  static std::string RawStart() {
    return std::string(H2Client::kPreface) + H2Client::Frame(kSettings, 0, 0, "");
  }

  static ApiResponse Ok(std::string body) {
    ApiResponse r;
    r.body = std::move(body);
    return r;
  }

  // A Kinesis call with a content-length unless `with_length` is false.
  int32_t PostOp(H2Client& client, std::string_view op, const std::string& body,
                 std::vector<std::pair<std::string, std::string>> extra = {},
                 bool with_length = true) {
    extra.emplace_back("x-amz-target", "Kinesis_20131202." + std::string(op));
    extra.emplace_back("content-type", "application/x-amz-json-1.1");
    if (with_length) extra.emplace_back("content-length", std::to_string(body.size()));
    return client.Submit("POST", "/", extra, &body);
  }

  ServerOptions options_;
  std::shared_ptr<Limits> limits_;
  Clock::time_point now_ = Clock::time_point() + 1h;
  std::unique_ptr<H2Connection> conn_;
  std::vector<Seen> seen_;
  std::function<ApiResponse(const Seen&)> answer_;
  std::vector<std::function<void()>> posted_;
  std::string pending_;
};

TEST_F(H2ConnectionTest, DeliversRequestsAsHttp11WouldWithHostFromAuthority) {
  Start();
  H2Client client;
  const std::string body = R"({"StreamName":"s","Data":"aGk=","PartitionKey":"p"})";
  const int32_t id = PostOp(client, "PutRecord", body,
                            {{"authorization",
                              "AWS4-HMAC-SHA256 Credential=AKID/20260101/eu-west-"
                              "1/kinesis/aws4_request, SignedHeaders=host, "
                              "Signature=00"}});
  client.Submit("GET", "/health?x=1", {});
  Exchange(client);
  ASSERT_EQ(seen_.size(), 2u);
  // The GET is complete with its HEADERS frame, before the POST's DATA arrives.
  const Seen& put = seen_[1];
  EXPECT_EQ(put.id, id);
  EXPECT_EQ(put.method, http::verb::post);
  EXPECT_EQ(put.target, "/");
  EXPECT_EQ(put.amz_target, "Kinesis_20131202.PutRecord");
  EXPECT_EQ(put.content_type, "application/x-amz-json-1.1");
  EXPECT_EQ(put.body, body);
  EXPECT_EQ(put.Header("host"), "localhost");  // SigV4 signs host; HTTP/2 sends :authority
  EXPECT_EQ(put.Header("authorization").substr(0, 16), "AWS4-HMAC-SHA256");
  EXPECT_EQ(seen_[0].method, http::verb::get);
  EXPECT_EQ(seen_[0].target, "/health?x=1");
  EXPECT_EQ(seen_[0].body, "");
}

TEST_F(H2ConnectionTest, AnswersWithTheHeadersHttp11Sends) {
  Start();
  answer_ = [](const Seen& s) {
    if (s.amz_target.ends_with("DescribeStream")) {
      return MakeError(ApiErrorType::kResourceNotFound, "Stream nope not found.");
    }
    return Ok(R"({"SequenceNumber":"1"})");
  };
  H2Client client;
  const int32_t ok = PostOp(client, "PutRecord", "{}");
  const int32_t missing = PostOp(client, "DescribeStream", R"({"StreamName":"nope"})");
  Exchange(client);
  const auto& r = client.response(ok);
  EXPECT_TRUE(r.closed);
  EXPECT_EQ(r.close_code, 0u);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"SequenceNumber":"1"})");
  EXPECT_EQ(r.Header("content-type"), "application/x-amz-json-1.1");
  EXPECT_EQ(r.Header("content-length"), std::to_string(r.body.size()));
  EXPECT_EQ(r.Header("x-amzn-requestid").size(), 36u);
  EXPECT_FALSE(r.HasHeader("x-amzn-errortype"));
  const auto& e = client.response(missing);
  EXPECT_EQ(e.status, 400);
  EXPECT_EQ(e.Header("x-amzn-errortype"), "ResourceNotFoundException");
  EXPECT_NE(e.body.find(R"("__type":"ResourceNotFoundException")"), std::string::npos);
  EXPECT_NE(e.Header("x-amzn-requestid"), r.Header("x-amzn-requestid"));
}

TEST_F(H2ConnectionTest, AnswersHeadWithoutABody) {
  Start();
  answer_ = [](const Seen&) { return MakeError(ApiErrorType::kUnknownOperation, "Unsupported"); };
  H2Client client;
  const int32_t id = client.Submit("HEAD", "/health", {});
  Exchange(client);
  EXPECT_TRUE(client.response(id).closed);
  EXPECT_EQ(client.response(id).close_code, 0u);
  EXPECT_EQ(client.response(id).status, 400);
  EXPECT_NE(client.response(id).Header("content-length"), "0");
  EXPECT_EQ(client.response(id).body, "");
}

TEST_F(H2ConnectionTest, ConcurrentStreamsAreAnsweredInAnyOrder) {
  Start();
  H2Client client;
  std::vector<int32_t> ids;
  for (int i = 0; i < 20; ++i)
    ids.push_back(PostOp(client, "PutRecord", "{\"n\":" + std::to_string(i) + "}"));
  Exchange(client);
  ASSERT_EQ(seen_.size(), 20u);
  EXPECT_EQ(conn_->streams(), 20u);
  // The last request is answered first; each stream gets its own answer.
  for (auto it = seen_.rbegin(); it != seen_.rend(); ++it) {
    conn_->Respond(it->id, Ok("answer to " + it->body));
    Exchange(client);
  }
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(client.response(ids[i]).body, "answer to {\"n\":" + std::to_string(i) + "}");
  }
  EXPECT_EQ(conn_->streams(), 0u);
  EXPECT_EQ(limits_->counters.h2_streams.load(), 20u);
  EXPECT_EQ(limits_->counters.h2_streams_closed.load(), 20u);
}

TEST_F(H2ConnectionTest, AnnouncesItsLimitsInSettings) {
  Start();
  H2Client client;
  Exchange(client);
  EXPECT_EQ(client.RemoteSetting(NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS),
            H2Connection::kMaxConcurrentStreams);
  EXPECT_EQ(client.RemoteSetting(NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE),
            H2Connection::kMaxHeaderListBytes);
  EXPECT_EQ(client.RemoteSetting(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE),
            static_cast<uint32_t>(H2Connection::kStreamWindow));
  EXPECT_EQ(nghttp2_session_get_remote_window_size(client.session()),
            H2Connection::kConnectionWindow);
}

TEST_F(H2ConnectionTest, StopsReadingWhileHandlersHoldTheStreamLimit) {
  Start();
  H2Client client;
  for (uint32_t i = 0; i < H2Connection::kMaxConcurrentStreams; ++i)
    client.Submit("GET", "/health", {});
  Exchange(client);
  ASSERT_EQ(seen_.size(), H2Connection::kMaxConcurrentStreams);
  EXPECT_FALSE(conn_->WantsRead());
  conn_->Respond(seen_[0].id, Ok("ok"));
  EXPECT_TRUE(conn_->WantsRead());
}

TEST_F(H2ConnectionTest, SendsNoMoreThanTheClientsWindowAllows) {
  Start();
  H2Client::Options small;
  small.initial_window = 1000;
  small.manual_window = true;
  H2Client client(small);
  const int32_t id = client.Submit("GET", "/health", {});
  Exchange(client);
  ASSERT_EQ(seen_.size(), 1u);
  const std::string big(100000, 'x');
  conn_->Respond(id, Ok(big));
  Exchange(client);
  EXPECT_EQ(client.response(id).body.size(), 1000u);
  EXPECT_FALSE(client.response(id).closed);
  // Each window the client opens lets exactly that much more through.
  for (int i = 0; i < 1000 && !client.response(id).closed; ++i) {
    const size_t had = client.response(id).body.size();
    client.Consume(id, 1000);
    Exchange(client);
    ASSERT_LE(client.response(id).body.size(), had + 1000);
  }
  EXPECT_EQ(client.response(id).body, big);
  EXPECT_TRUE(client.response(id).closed);
}

TEST_F(H2ConnectionTest, OutputComesInBoundedPiecesAndReadingPausesWhileOneIsUnwritten) {
  options_.max_body_bytes = 8u << 20;
  Start();
  H2Client::Options wide;
  wide.initial_window = (1u << 31) - 1;
  wide.connection_window = (1 << 30);
  H2Client client(wide);
  const int32_t id = client.Submit("GET", "/health", {});
  Exchange(client);
  conn_->Respond(id, Ok(std::string(4u << 20, 'y')));
  size_t pieces = 0;
  std::string all;
  for (;;) {
    const std::string_view out = conn_->Output();
    if (out.empty()) break;
    ++pieces;
    // One piece: the high-water mark plus at most one frame (16 KiB payload + 9).
    ASSERT_LE(out.size(), H2Connection::kOutputHighWater + 16384 + 9);
    if (out.size() >= H2Connection::kOutputHighWater) {
      EXPECT_FALSE(conn_->WantsRead());
    }
    all.append(out);
    conn_->OutputWritten();
    EXPECT_TRUE(conn_->WantsRead());
  }
  EXPECT_GT(pieces, 50u);
  ASSERT_TRUE(client.Receive(all));
  EXPECT_EQ(client.response(id).body.size(), 4u << 20);
  EXPECT_TRUE(client.response(id).closed);
}

TEST_F(H2ConnectionTest, LargeBodiesFlowAsTheServerConsumesThem) {
  options_.max_body_bytes = 8u << 20;
  Start();
  H2Client client;
  // Three times the stream window and a fifth of the connection window: arrives only if the
  // server opens both windows as it takes the body.
  std::string body(3u << 20, 'b');
  for (size_t i = 0; i < body.size(); i += 4096)
    body[i] = static_cast<char>('a' + (i / 4096) % 26);
  PostOp(client, "PutRecords", body);
  Exchange(client);
  ASSERT_EQ(seen_.size(), 1u);
  EXPECT_EQ(seen_[0].body, body);
  // The body was reserved from the in-flight budget while it was held.
  EXPECT_EQ(limits_->budget.used(), body.size());
  conn_->Respond(seen_[0].id, Ok("{}"));
  Exchange(client);
  EXPECT_EQ(limits_->budget.used(), 0u);
}

TEST_F(H2ConnectionTest, ContentLengthOverTheLimitGets413AndTheUploadIsStopped) {
  Start();
  H2Client client;
  const std::string body((1u << 20) + 1, 'A');
  const int32_t id = PostOp(client, "PutRecord", body);
  Exchange(client);
  EXPECT_TRUE(seen_.empty());
  const auto& r = client.response(id);
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.Header("x-amzn-errortype"), "ValidationException");
  EXPECT_NE(r.body.find("Request body exceeds the limit of 1048576 bytes."), std::string::npos);
  // The answer came before the body: the server then stopped the upload without an error.
  EXPECT_TRUE(r.reset_by_server);
  EXPECT_EQ(r.close_code, static_cast<uint32_t>(NGHTTP2_NO_ERROR));
  EXPECT_EQ(limits_->counters.rejected_body_size.load(), 1u);
  EXPECT_EQ(limits_->budget.used(), 0u);
  // The connection goes on.
  const int32_t next = client.Submit("GET", "/health", {});
  answer_ = [](const Seen&) { return Ok("ok"); };
  Exchange(client);
  EXPECT_EQ(client.response(next).body, "ok");
}

TEST_F(H2ConnectionTest, BodyWithoutContentLengthGrowingOverTheLimitGets413) {
  Start();
  H2Client client;
  const int32_t id = PostOp(client, "PutRecords", std::string((1u << 20) + 100, 'A'), {},
                            /*with_length=*/false);
  Exchange(client);
  EXPECT_TRUE(seen_.empty());
  EXPECT_EQ(client.response(id).status, 413);
  EXPECT_EQ(limits_->counters.rejected_body_size.load(), 1u);
  EXPECT_EQ(limits_->budget.used(), 0u);
}

TEST_F(H2ConnectionTest, OperationsWithoutRecordDataHaveTheSmallBodyLimit) {
  Start();
  H2Client client;
  const std::string body(kSmallBodyBytes + 1, ' ');
  const int32_t id = PostOp(client, "DescribeStream", body);
  const int32_t put = PostOp(client, "PutRecord", body);
  Exchange(client);
  EXPECT_EQ(client.response(id).status, 413);
  ASSERT_EQ(seen_.size(), 1u);
  EXPECT_EQ(seen_[0].id, put);
}

TEST_F(H2ConnectionTest, InflightBudgetRefusalsAreKinesisThrottlingErrors) {
  options_.max_body_bytes = 4096;
  options_.max_inflight_bytes = 6000;
  Start();
  H2Client client;
  const std::string body(4000, ' ');
  const int32_t first = PostOp(client, "PutRecord", body);
  const int32_t second = PostOp(client, "PutRecord", body);
  const int32_t list = PostOp(client, "ListStreams", "{}");
  Exchange(client);
  // The first holds 4000 of the 6000 bytes; the second does not fit, a small body still does.
  ASSERT_EQ(seen_.size(), 2u);
  EXPECT_EQ(seen_[0].id, first);
  EXPECT_EQ(seen_[1].id, list);
  EXPECT_EQ(client.response(second).status, 400);
  EXPECT_EQ(client.response(second).Header("x-amzn-errortype"),
            "ProvisionedThroughputExceededException");
  EXPECT_NE(client.response(second).body.find("server.max_inflight_bytes"), std::string::npos);
  EXPECT_EQ(limits_->counters.rejected_inflight.load(), 1u);
  EXPECT_EQ(limits_->budget.used(), 4002u);
}

TEST_F(H2ConnectionTest, OtherOperationsAreRefusedWithLimitExceeded) {
  options_.max_body_bytes = 4096;
  options_.max_inflight_bytes = 4096;
  Start();
  H2Client client;
  PostOp(client, "PutRecord", std::string(4000, ' '));
  const int32_t list = PostOp(client, "ListStreams", std::string(200, ' '));
  Exchange(client);
  EXPECT_EQ(client.response(list).Header("x-amzn-errortype"), "LimitExceededException");
}

TEST_F(H2ConnectionTest, GetRecordsReservesItsAnswerAndLargerAnswersAreCounted) {
  Start();
  H2Client client;
  PostOp(client, "GetRecords", R"({"ShardIterator":"x"})");
  Exchange(client);
  ASSERT_EQ(seen_.size(), 1u);
  EXPECT_EQ(limits_->budget.used(), 4u << 20);
  // A 6 MiB answer is more than was reserved: held against the budget until sent.
  conn_->Respond(seen_[0].id, Ok(std::string(6u << 20, 'r')));
  EXPECT_EQ(limits_->budget.used(), 6u << 20);
  Exchange(client);
  EXPECT_EQ(limits_->budget.used(), 0u);
}

TEST_F(H2ConnectionTest, HeaderListOverTheLimitEndsTheConnection) {
  Start();
  H2Client client;
  client.Submit("GET", "/health", {{"x-padding", std::string(9000, 'p')}});
  Exchange(client);
  EXPECT_TRUE(seen_.empty());
  EXPECT_TRUE(client.goaway());
  EXPECT_EQ(client.goaway_code(), static_cast<uint32_t>(NGHTTP2_ENHANCE_YOUR_CALM));
  EXPECT_TRUE(conn_->Finished());
  EXPECT_EQ(limits_->counters.h2_calm.load(), 1u);
}

TEST_F(H2ConnectionTest, HeaderListUpToTheLimitIsServed) {
  Start();
  answer_ = [](const Seen&) { return Ok("ok"); };
  H2Client client;
  // The pseudo-headers (:method GET, :scheme http, :authority localhost, :path /health) take
  // 4 x 32 + 52 bytes; this field brings the list to the limit exactly.
  const size_t room = H2Connection::kMaxHeaderListBytes - (4 * 32 + 52) - (32 + 9);
  const int32_t id = client.Submit("GET", "/health", {{"x-padding", std::string(room, 'p')}});
  Exchange(client);
  ASSERT_EQ(seen_.size(), 1u);
  EXPECT_EQ(seen_[0].Header("x-padding").size(), room);
  EXPECT_EQ(client.response(id).body, "ok");
}

TEST_F(H2ConnectionTest, HpackBombCostsLittleAndEndsTheConnection) {
  Start();
  // One 3,000-byte field enters the dynamic table; every other byte of the block is a one-byte
  // reference to it: 9 frames of 16 KiB would decode into ~440 MB for nghttp2 to check.
  std::string block =
      Hpack({{":method", "GET"}, {":scheme", "http"}, {":path", "/health"}, {":authority", "x"}});
  block += '\x40';  // literal with incremental indexing, new name
  HpackInt(block, 0, 7, 6);
  block += "x-bomb";
  HpackInt(block, 0, 7, 3000);
  block += std::string(3000, 'b');
  block.append(16384 - block.size(), '\xbe');  // index 62: the entry just added
  std::string wire = RawStart() + H2Client::Frame(kHeaders, kEndStream, 1, block);
  for (int i = 0; i < 8; ++i) {
    wire += H2Client::Frame(kContinuation, i == 7 ? kEndHeaders : 0, 1, std::string(16384, '\xbe'));
  }
  Feed(wire);
  EXPECT_TRUE(seen_.empty());
  EXPECT_EQ(GoawayCode(Drain()), NGHTTP2_ENHANCE_YOUR_CALM);
  EXPECT_TRUE(conn_->Finished());
  EXPECT_EQ(limits_->counters.h2_calm.load(), 1u);
}

TEST_F(H2ConnectionTest, OverflowSlotServesOneProbeThenGoesAway) {
  Start(ConnectionGate::Slot::kOverflow);
  answer_ = [](const Seen&) { return Ok("ok"); };
  H2Client client;
  const int32_t health = client.Submit("GET", "/health", {});
  Exchange(client);
  EXPECT_EQ(client.response(health).body, "ok");
  EXPECT_TRUE(client.goaway());
  EXPECT_EQ(client.goaway_code(), static_cast<uint32_t>(NGHTTP2_NO_ERROR));
  EXPECT_TRUE(conn_->Finished());
}

TEST_F(H2ConnectionTest, OverflowSlotRefusesApiCallsWith503) {
  Start(ConnectionGate::Slot::kOverflow);
  H2Client client;
  const int32_t put = PostOp(client, "PutRecord", "{}");
  Exchange(client);
  EXPECT_TRUE(seen_.empty());
  EXPECT_EQ(client.response(put).status, 503);
  EXPECT_EQ(client.response(put).Header("x-amzn-errortype"), "ServiceUnavailable");
  EXPECT_EQ(limits_->counters.rejected_overflow.load(), 1u);
}

TEST_F(H2ConnectionTest, ExpectContinueGets100BeforeTheBody) {
  Start();
  H2Client client;
  const int32_t id = PostOp(client, "PutRecord", "{}", {{"expect", "100-continue"}});
  answer_ = [](const Seen&) { return Ok("{}"); };
  Exchange(client);
  EXPECT_EQ(client.response(id).informational, std::vector<int>{100});
  EXPECT_EQ(client.response(id).status, 200);
}

// ---- floods ----------------------------------------------------------------------------------

class H2FloodTest : public H2ConnectionTest {
 protected:
  // Feeds the client's start, `prefix`, then `frame` up to `n` times (one read each, `step`
  // apart), reading what the server says as a client would; returns all the server said.
  std::string Flood(const std::string& frame, int n, Clock::duration step = 0s,
                    const std::string& prefix = "") {
    std::string said;
    Feed(RawStart() + prefix);
    for (int i = 0; i < n && conn_->WantsRead(); ++i) {
      Feed(frame);
      now_ += step;
      said += Drain();
    }
    return said + Drain();
  }
  void ExpectCalm(std::string_view said) {
    EXPECT_EQ(GoawayCode(said), NGHTTP2_ENHANCE_YOUR_CALM);
    EXPECT_EQ(limits_->counters.h2_calm.load(), 1u);
    EXPECT_TRUE(conn_->Finished());
    EXPECT_FALSE(conn_->WantsRead());
  }
};

TEST_F(H2FloodTest, PingFloodEndsWithEnhanceYourCalm) {
  Start();
  ExpectCalm(Flood(H2Client::Frame(kPing, 0, 0, "12345678"), 1000));
}

TEST_F(H2FloodTest, PingsAtAModestRateAreFine) {
  Start();
  // 20 a second for a minute: under the 50 a second the budget refills at.
  EXPECT_EQ(GoawayCode(Flood(H2Client::Frame(kPing, 0, 0, "12345678"), 1200, 50ms)), -1);
  EXPECT_TRUE(conn_->WantsRead());
}

TEST_F(H2FloodTest, SettingsFloodEndsWithEnhanceYourCalm) {
  Start();
  ExpectCalm(
      Flood(H2Client::Frame(kSettings, 0, 0, std::string("\x00\x03\x00\x00\x00\x64", 6)), 1000));
}

TEST_F(H2FloodTest, WindowUpdateFloodEndsWithEnhanceYourCalm) {
  Start();
  ExpectCalm(Flood(H2Client::Frame(kWindowUpdate, 0, 0, U32(1)), 1000));
}

TEST_F(H2FloodTest, UnknownFrameFloodEndsWithEnhanceYourCalm) {
  Start();
  ExpectCalm(Flood(H2Client::Frame(0xfa, 0, 0, "junk"), 1000));
}

TEST_F(H2FloodTest, EmptyDataFrameFloodEndsWithEnhanceYourCalm) {
  Start();
  // A request whose body never comes: only empty DATA frames.
  const std::string headers =
      H2Client::Frame(kHeaders, kEndHeaders, 1,
                      Hpack({{":method", "POST"},
                             {":scheme", "http"},
                             {":path", "/"},
                             {":authority", "x"},
                             {"x-amz-target", "Kinesis_20131202.PutRecord"}}));
  ExpectCalm(Flood(H2Client::Frame(kData, 0, 1, ""), 1000, 0s, headers));
  EXPECT_TRUE(seen_.empty());
}

TEST_F(H2FloodTest, RapidResetIsBoundedAndEndsWithEnhanceYourCalm) {
  Start();
  Feed(RawStart());
  int32_t id = 1;
  int pairs = 0;
  for (; pairs < 5000 && conn_->WantsRead(); ++pairs, id += 2) {
    Feed(H2Client::Frame(kHeaders, kEndHeaders | kEndStream, id, GetHealthBlock()) +
         H2Client::Frame(kRstStream, 0, id, U32(NGHTTP2_CANCEL)));
  }
  EXPECT_EQ(GoawayCode(Drain()), NGHTTP2_ENHANCE_YOUR_CALM);
  // The burst of the control-frame budget, and nothing reached a handler: each stream was gone
  // by the time the read was done.
  EXPECT_LE(pairs, 201);
  EXPECT_TRUE(seen_.empty());
  EXPECT_LE(conn_->streams(), 1u);
}

TEST_F(H2FloodTest, ResetStreamsStillCountAgainstTheHandlerLimit) {
  Start();
  Feed(RawStart());
  // Each request reaches a handler, then the client resets it: the handlers keep the work, so
  // the connection stops reading once they hold kMaxConcurrentStreams.
  int32_t id = 1;
  int sent = 0;
  for (; sent < 1000 && conn_->WantsRead(); ++sent, id += 2) {
    Feed(H2Client::Frame(kHeaders, kEndHeaders | kEndStream, id, GetHealthBlock()));
    Feed(H2Client::Frame(kRstStream, 0, id, U32(NGHTTP2_CANCEL)));
    now_ += 100ms;  // slowly enough for the control-frame budget
  }
  EXPECT_EQ(sent, static_cast<int>(H2Connection::kMaxConcurrentStreams));
  EXPECT_EQ(seen_.size(), H2Connection::kMaxConcurrentStreams);
  EXPECT_FALSE(conn_->WantsRead());
  // Late answers to reset streams are dropped, and free the handler slots.
  for (const Seen& s : seen_)
    conn_->Respond(s.id, Ok("late"));
  EXPECT_TRUE(conn_->WantsRead());
  EXPECT_EQ(conn_->streams(), 0u);
  EXPECT_EQ(limits_->counters.h2_streams_reset.load(), H2Connection::kMaxConcurrentStreams);
}

TEST_F(H2FloodTest, ContinuationFloodEndsTheConnection) {
  Start();
  Feed(RawStart());
  const std::string block = GetHealthBlock();
  Feed(H2Client::Frame(kHeaders, 0, 1, block.substr(0, 2)));
  for (int i = 0; i < 100 && !conn_->Finished(); ++i)
    Feed(H2Client::Frame(kContinuation, 0, 1, ""));
  EXPECT_TRUE(conn_->Finished());
  EXPECT_TRUE(seen_.empty());
  EXPECT_EQ(limits_->counters.h2_calm.load(), 1u);
}

TEST_F(H2FloodTest, GarbageInsteadOfThePrefaceEndsTheConnection) {
  Start();
  Feed("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(conn_->Finished());
  EXPECT_EQ(limits_->counters.h2_protocol_errors.load(), 1u);
}

TEST_F(H2FloodTest, AMalformedFrameGetsAProtocolErrorGoaway) {
  Start();
  Feed(RawStart());
  // A SETTINGS frame on a stream is a connection error (RFC 9113 6.5).
  Feed(H2Client::Frame(kSettings, 0, 1, ""));
  EXPECT_EQ(GoawayCode(Drain()), NGHTTP2_PROTOCOL_ERROR);
  EXPECT_TRUE(conn_->Finished());
  EXPECT_EQ(limits_->counters.h2_protocol_errors.load(), 1u);
}

// ---- streamed bodies -------------------------------------------------------------------------

TEST_F(H2ConnectionTest, StreamedBodyGoesOutAsWrittenAndEndsTheStream) {
  Start();
  H2Client client;
  const int32_t id = PostOp(client, "SubscribeToShard", "{}");
  Exchange(client);
  ASSERT_EQ(seen_.size(), 1u);
  auto producer = std::make_shared<TestBodyStream>();
  ApiResponse r;
  r.content_type = "application/vnd.amazon.eventstream";
  r.stream = producer;
  conn_->Respond(id, std::move(r));
  EXPECT_EQ(producer->starts, 1);
  ASSERT_TRUE(producer->sink);
  Exchange(client);
  EXPECT_EQ(client.response(id).status, 200);
  EXPECT_EQ(client.response(id).Header("content-type"), "application/vnd.amazon.eventstream");
  EXPECT_FALSE(client.response(id).HasHeader("content-length"));
  EXPECT_FALSE(client.response(id).closed);

  int written = 0;
  producer->sink->Write("event-1;", [&] { ++written; });
  EXPECT_EQ(written, 0);  // posted, not run inline
  RunPosted();
  Exchange(client);
  EXPECT_EQ(client.response(id).body, "event-1;");
  EXPECT_EQ(written, 1);
  EXPECT_EQ(limits_->budget.used(), 2u);  // the request body ("{}") until the stream ends

  producer->sink->Write("event-2;", [&] { ++written; });
  producer->sink->End();
  RunPosted();
  Exchange(client);
  EXPECT_EQ(client.response(id).body, "event-1;event-2;");
  EXPECT_EQ(written, 2);
  EXPECT_TRUE(client.response(id).closed);
  EXPECT_EQ(client.response(id).close_code, 0u);
  EXPECT_EQ(producer->cancels, 0);
  EXPECT_EQ(limits_->budget.used(), 0u);
  EXPECT_EQ(conn_->streams(), 0u);
  // After End, writes are ignored.
  producer->sink->Write("late", [&] { ++written; });
  RunPosted();
  EXPECT_EQ(written, 2);
}

TEST_F(H2ConnectionTest, WrittenRunsOnlyOnceTheClientsWindowTookTheBytes) {
  Start();
  H2Client::Options small;
  small.initial_window = 1000;
  small.manual_window = true;
  H2Client client(small);
  const int32_t id = PostOp(client, "SubscribeToShard", "{}");
  Exchange(client);
  auto producer = std::make_shared<TestBodyStream>();
  ApiResponse r;
  r.stream = producer;
  conn_->Respond(id, std::move(r));
  int written = 0;
  producer->sink->Write(std::string(2500, 'e'), [&] { ++written; });
  RunPosted();
  Exchange(client);
  EXPECT_EQ(client.response(id).body.size(), 1000u);
  EXPECT_EQ(written, 0);  // the rest waits for the client's window: backpressure
  EXPECT_EQ(limits_->budget.used(), 2u + 2500u);  // queued bytes are held against the budget
  client.Consume(id, 1000);
  Exchange(client);
  EXPECT_EQ(written, 0);
  client.Consume(id, 1000);
  Exchange(client);
  EXPECT_EQ(client.response(id).body.size(), 2500u);
  EXPECT_EQ(written, 1);
  EXPECT_EQ(limits_->budget.used(), 2u);
}

TEST_F(H2ConnectionTest, ClientResetCancelsTheStreamedBody) {
  Start();
  H2Client client;
  const int32_t id = PostOp(client, "SubscribeToShard", "{}");
  Exchange(client);
  auto producer = std::make_shared<TestBodyStream>();
  ApiResponse r;
  r.stream = producer;
  conn_->Respond(id, std::move(r));
  Exchange(client);
  auto sink = producer->sink;
  int written = 0;
  sink->Write("queued", [&] { ++written; });  // still posted when the reset arrives
  client.Reset(id);
  Exchange(client);
  EXPECT_EQ(producer->cancels, 1);
  RunPosted();
  EXPECT_EQ(written, 0);  // ignored after the cancellation
  Exchange(client);
  EXPECT_EQ(producer->cancels, 1);
  EXPECT_EQ(conn_->streams(), 0u);
  EXPECT_EQ(limits_->budget.used(), 0u);
  EXPECT_EQ(limits_->counters.h2_streams_reset.load(), 1u);
}

TEST_F(H2ConnectionTest, ClosingTheConnectionCancelsStreamedBodies) {
  Start();
  H2Client client;
  const int32_t id = PostOp(client, "SubscribeToShard", "{}");
  Exchange(client);
  auto producer = std::make_shared<TestBodyStream>();
  ApiResponse r;
  r.stream = producer;
  conn_->Respond(id, std::move(r));
  Exchange(client);
  conn_->Shutdown();
  EXPECT_EQ(producer->cancels, 1);
  conn_.reset();
  EXPECT_EQ(producer->cancels, 1);  // once
  EXPECT_EQ(limits_->budget.used(), 0u);
}

TEST_F(H2ConnectionTest, AnAnswerToAResetStreamIsDroppedAndAStreamedOneCancelled) {
  Start();
  H2Client client;
  const int32_t id = PostOp(client, "SubscribeToShard", "{}");
  Exchange(client);
  client.Reset(id);
  Exchange(client);
  auto producer = std::make_shared<TestBodyStream>();
  ApiResponse r;
  r.stream = producer;
  conn_->Respond(id, std::move(r));
  EXPECT_EQ(producer->starts, 0);
  EXPECT_EQ(producer->cancels, 1);
  EXPECT_EQ(conn_->streams(), 0u);
  EXPECT_EQ(limits_->budget.used(), 0u);
}

// ---- timeouts --------------------------------------------------------------------------------

TEST_F(H2ConnectionTest, TheFirstRequestMustArriveWithinTheHeaderTimeout) {
  Start();
  H2Client client;
  Exchange(client);  // preface and SETTINGS, no request
  EXPECT_EQ(conn_->NextDeadline(), now_ + 10s);
  now_ += 10s;
  conn_->CheckDeadlines();
  Exchange(client);
  EXPECT_TRUE(client.goaway());
  EXPECT_TRUE(conn_->Finished());
  EXPECT_EQ(limits_->counters.header_timeouts.load(), 1u);
}

TEST_F(H2ConnectionTest, AnUnfinishedHeaderBlockTimesOut) {
  Start();
  H2Client client;
  answer_ = [](const Seen&) { return Ok("ok"); };
  client.Submit("GET", "/health", {});
  Exchange(client);
  now_ += 30s;
  const std::string block = GetHealthBlock();
  Feed(H2Client::Frame(kHeaders, 0, 3, block.substr(0, 3)));  // no CONTINUATION follows
  EXPECT_EQ(conn_->NextDeadline(), now_ + 10s);
  now_ += 10s;
  conn_->CheckDeadlines();
  EXPECT_EQ(limits_->counters.header_timeouts.load(), 1u);
  Drain();
  EXPECT_TRUE(conn_->Finished());
}

TEST_F(H2ConnectionTest, ABodyThatStallsIsResetAfterTheIdleTimeout) {
  Start();
  H2Client client;
  Feed(client.Output());
  Feed(H2Client::Frame(kHeaders, kEndHeaders, 1,
                       Hpack({{":method", "POST"},
                              {":scheme", "http"},
                              {":path", "/"},
                              {":authority", "x"},
                              {"x-amz-target", "Kinesis_20131202.PutRecord"},
                              {"content-length", "100"}})));
  Feed(H2Client::Frame(kData, 0, 1, std::string(10, 'x')));
  EXPECT_EQ(limits_->budget.used(), 100u);
  now_ += 59s;
  conn_->CheckDeadlines();
  EXPECT_EQ(limits_->counters.h2_stream_timeouts.load(), 0u);
  now_ += 1s;
  conn_->CheckDeadlines();
  EXPECT_EQ(limits_->counters.h2_stream_timeouts.load(), 1u);
  EXPECT_NE(Drain().find(H2Client::Frame(kRstStream, 0, 1, U32(NGHTTP2_CANCEL))),
            std::string::npos);
  EXPECT_TRUE(seen_.empty());
  EXPECT_EQ(conn_->streams(), 0u);
  EXPECT_EQ(limits_->budget.used(), 0u);
  EXPECT_FALSE(conn_->Finished());  // other streams could go on
}

TEST_F(H2ConnectionTest, AResponseStuckOnAClosedWindowIsReset) {
  Start();
  H2Client::Options small;
  small.initial_window = 100;
  small.manual_window = true;
  H2Client client(small);
  const int32_t id = client.Submit("GET", "/health", {});
  Exchange(client);
  conn_->Respond(id, Ok(std::string(1000, 'z')));
  Exchange(client);
  EXPECT_EQ(client.response(id).body.size(), 100u);
  now_ += 60s;
  conn_->CheckDeadlines();
  Exchange(client);
  EXPECT_TRUE(client.response(id).reset_by_server);
  EXPECT_EQ(client.response(id).close_code, static_cast<uint32_t>(NGHTTP2_CANCEL));
  EXPECT_EQ(limits_->counters.h2_stream_timeouts.load(), 1u);
}

TEST_F(H2ConnectionTest, AnIdleConnectionGetsAGracefulGoaway) {
  Start();
  answer_ = [](const Seen&) { return Ok("ok"); };
  H2Client client;
  client.Submit("GET", "/health", {});
  Exchange(client);
  ASSERT_EQ(seen_.size(), 1u);
  EXPECT_EQ(conn_->NextDeadline(), now_ + 60s);
  now_ += 60s;
  conn_->CheckDeadlines();
  Exchange(client);
  EXPECT_TRUE(client.goaway());
  EXPECT_EQ(client.goaway_code(), static_cast<uint32_t>(NGHTTP2_NO_ERROR));
  EXPECT_TRUE(conn_->Finished());
  EXPECT_EQ(limits_->counters.header_timeouts.load(), 0u);
}

TEST_F(H2ConnectionTest, AWriteThatNeverCompletesEndsTheConnection) {
  Start();
  H2Client client;
  Feed(client.Output());
  ASSERT_FALSE(conn_->Output().empty());  // handed to the socket, never written
  now_ += 60s;
  conn_->CheckDeadlines();
  EXPECT_TRUE(conn_->Finished());
}

}  // namespace
}  // namespace tideline::server
