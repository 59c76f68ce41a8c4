// The fixture of the SubscribeToShard tests (subscriptions_test.cc): the handler and a real
// SubscriptionHub over the in-memory store, and a test BodySink standing in for the session (it
// decodes the event stream and runs `written` callbacks as a session's strand would). The hub's
// clock is the store's ManualClock, so heartbeats, durations and the takeover window move only
// when a test moves it.
#pragma once

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/base64.h"
#include "common/event_stream.h"
#include "handlers.h"
#include "subscriptions.h"
#include "test_util/test_store.h"
#include "test_util/time_factor.h"

namespace tideline::server {

using eventstream::Message;

// A deadline for what must happen, never a delay.
inline constexpr std::chrono::seconds kWait{10};

// The session's side, for tests: decodes every message, keeps `written` callbacks until they are
// acknowledged (AckAll), or acknowledges them at once on a thread of its own (a fast client).
class TestSink final : public BodySink {
 public:
  explicit TestSink(bool auto_ack = true) {
    if (auto_ack) acker_ = std::thread([this] { AckLoop(); });
  }
  ~TestSink() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (acker_.joinable()) acker_.join();
  }

  void Write(std::string bytes, std::function<void()> written) override {
    std::lock_guard<std::mutex> lock(mu_);
    EXPECT_FALSE(ended_) << "Write after End";
    ++writes_;
    unacked_bytes_ += bytes.size();
    const Status s = decoder_.Feed(bytes, &messages_);
    EXPECT_TRUE(s.ok()) << s.ToString();
    pending_.push_back(std::move(written));
    cv_.notify_all();
  }
  void End() override {
    std::lock_guard<std::mutex> lock(mu_);
    EXPECT_FALSE(ended_) << "End twice";
    ended_ = true;
    cv_.notify_all();
  }

  // Runs every `written` held so far, as a session does once the bytes are on the socket.
  void AckAll() {
    std::vector<std::function<void()>> run;
    {
      std::lock_guard<std::mutex> lock(mu_);
      run.swap(pending_);
      unacked_bytes_ = 0;
    }
    for (auto& f : run)
      f();
  }
  // Bytes written and not yet acknowledged (manual acks only).
  uint64_t unacked_bytes() {
    std::lock_guard<std::mutex> lock(mu_);
    return unacked_bytes_;
  }

  // Waits until `done` holds (checked under the sink's lock on every change); false after
  // the deadline.
  bool WaitUntil(const std::function<bool()>& done) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, testing::Scaled(kWait), done);
  }
  bool WaitForMessages(size_t n) {
    return WaitUntil([&] { return messages_.size() >= n; });
  }
  bool WaitForEnd() {
    return WaitUntil([&] { return ended_; });
  }

  std::vector<Message> messages() {
    std::lock_guard<std::mutex> lock(mu_);
    return messages_;
  }
  size_t writes() {
    std::lock_guard<std::mutex> lock(mu_);
    return writes_;
  }
  bool ended() {
    std::lock_guard<std::mutex> lock(mu_);
    return ended_;
  }
  // For WaitUntil predicates, which run with the lock held.
  const std::vector<Message>& messages_locked() const { return messages_; }
  bool ended_locked() const { return ended_; }

 private:
  void AckLoop() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return stop_ || !pending_.empty(); });
      if (stop_) return;
      std::vector<std::function<void()>> run;
      run.swap(pending_);
      lock.unlock();
      for (auto& f : run)
        f();
      lock.lock();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  eventstream::Decoder decoder_;
  std::vector<Message> messages_;  // GUARDED_BY(mu_)
  std::vector<std::function<void()>> pending_;
  size_t writes_ = 0;
  uint64_t unacked_bytes_ = 0;
  bool ended_ = false;
  bool stop_ = false;
  std::thread acker_;
};

// What a SubscribeToShardEvent says.
struct Event {
  std::vector<std::string> data;  // Records' Data, decoded
  std::vector<std::string> seqs;  // their SequenceNumbers
  std::optional<std::string> continuation;
  int64_t millis_behind = -1;
  std::vector<std::string> child_shards;  // ChildShards' ShardIds; empty when absent
  bool has_child_shards = false;
};

inline Event ParseEvent(const Message& m) {
  EXPECT_EQ(m.Header(":message-type"), "event");
  EXPECT_EQ(m.Header(":event-type"), "SubscribeToShardEvent");
  rapidjson::Document d;
  d.Parse(m.payload.data(), m.payload.size());
  Event e;
  EXPECT_FALSE(d.HasParseError()) << m.payload;
  if (d.HasParseError() || !d.IsObject()) return e;
  for (const auto& r : d["Records"].GetArray()) {
    const std::optional<std::string> raw = Base64Decode(r["Data"].GetString());
    EXPECT_TRUE(raw);
    e.data.push_back(raw.value_or(""));
    e.seqs.emplace_back(r["SequenceNumber"].GetString());
    EXPECT_TRUE(r.HasMember("PartitionKey") && r.HasMember("ApproximateArrivalTimestamp"));
  }
  if (d.HasMember("ContinuationSequenceNumber")) {
    e.continuation = d["ContinuationSequenceNumber"].GetString();
  }
  e.millis_behind = d["MillisBehindLatest"].GetInt64();
  if (d.HasMember("ChildShards")) {
    e.has_child_shards = true;
    for (const auto& c : d["ChildShards"].GetArray())
      e.child_shards.emplace_back(c["ShardId"].GetString());
  }
  return e;
}

// The SubscribeToShardEvents among `messages` (the initial response and exceptions left out).
inline std::vector<Event> Events(const std::vector<Message>& messages) {
  std::vector<Event> out;
  for (const Message& m : messages) {
    if (m.Header(":event-type") == "SubscribeToShardEvent") out.push_back(ParseEvent(m));
  }
  return out;
}

inline std::vector<std::string> AllData(const std::vector<Message>& messages) {
  std::vector<std::string> out;
  for (const Event& e : Events(messages))
    out.insert(out.end(), e.data.begin(), e.data.end());
  return out;
}

inline size_t CountRecords(const std::vector<Message>& messages) {
  return AllData(messages).size();
}

class SubscriptionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_.options().reshard_updating_delay = std::chrono::milliseconds(0);
    ASSERT_TRUE(store_.Open().ok());
    ctx_.store = store_.get();
    ctx_.now_ms = [this] { return clock_.NowMs(); };
    StartHub({});
  }
  void TearDown() override { hub_->Stop(); }

  void StartHub(SubscriptionOptions options) {
    if (hub_) hub_->Stop();
    options.steady_ms = [this] { return clock_.MonotonicMs(); };
    options.wall_ms = [this] { return clock_.NowMs(); };
    hub_ = std::make_unique<SubscriptionHub>(*store_, options);
    ctx_.subscriptions = hub_.get();
  }

  // Time passes for the hub (heartbeats, durations, the takeover window).
  void Advance(std::chrono::milliseconds d) {
    clock_.AdvanceMs(d.count());
    hub_->CheckTimers();
  }

  void CreateStream(const std::string& name, int shards) {
    const ApiResponse r = HandleCreateStream(
        ctx_, R"({"StreamName":")" + name + R"(","ShardCount":)" + std::to_string(shards) + "}");
    ASSERT_EQ(r.status, 200u) << r.body;
  }

  std::string StreamArn(const std::string& name) {
    return "arn:aws:kinesis:us-east-1:123456789012:stream/" + name;
  }

  // Registers consumer `name` of `stream` (ACTIVE at once: status_delay 0) and returns its ARN.
  std::string Register(const std::string& stream, const std::string& name) {
    const ApiResponse r = HandleRegisterStreamConsumer(
        ctx_, R"({"StreamARN":")" + StreamArn(stream) + R"(","ConsumerName":")" + name + R"("})");
    EXPECT_EQ(r.status, 200u) << r.body;
    rapidjson::Document d;
    d.Parse(r.body.c_str());
    return d["Consumer"]["ConsumerARN"].GetString();
  }

  // Appends records with these data (partition key "k") to `stream`; their sequence numbers.
  std::vector<std::string> Put(const std::string& stream, const std::vector<std::string>& data,
                               const std::string& explicit_hash_key = "") {
    std::vector<storage::AppendRecord> records;
    for (const std::string& d : data)
      records.push_back({"k", explicit_hash_key, d});
    auto r = store_->Append(StreamName(stream), records);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    std::vector<std::string> seqs;
    if (r.ok()) {
      for (const auto& a : *r)
        seqs.push_back(a.sequence_number.get());
    }
    return seqs;
  }

  ApiResponse Subscribe(const std::string& arn, const std::string& position,
                        const std::string& shard = "shardId-000000000000") {
    return HandleSubscribeToShard(ctx_, R"({"ConsumerARN":")" + arn + R"(","ShardId":")" + shard +
                                            R"(","StartingPosition":)" + position + "}");
  }

  // Subscribes and starts the stream into a new sink; fails the test when refused.
  std::shared_ptr<TestSink> Start(const std::string& arn, const std::string& position,
                                  const std::string& shard = "shardId-000000000000",
                                  bool auto_ack = true) {
    ApiResponse r = Subscribe(arn, position, shard);
    EXPECT_EQ(r.status, 200u) << r.body;
    EXPECT_EQ(r.content_type, "application/vnd.amazon.eventstream");
    auto sink = NewSink(auto_ack);
    if (r.stream) r.stream->Start(sink);
    return sink;
  }

  // A sink the fixture keeps until after the hub has stopped: the hub may drop its references
  // under its lock, and a TestSink's destructor joins its acknowledging thread.
  std::shared_ptr<TestSink> NewSink(bool auto_ack = true) {
    sinks_.push_back(std::make_shared<TestSink>(auto_ack));
    return sinks_.back();
  }

  static void ExpectErrorType(const ApiResponse& r, const std::string& type) {
    EXPECT_FALSE(r.stream);
    EXPECT_EQ(r.error_type, type) << r.body;
    EXPECT_EQ(r.status, 400u) << r.body;
  }

  testing::TestStore store_{testing::StoreKind::kMemory, "tideline-subscription-test"};
  testing::ManualClock& clock_ = store_.clock();
  HandlerContext ctx_;
  std::unique_ptr<SubscriptionHub> hub_;
  std::vector<std::shared_ptr<TestSink>> sinks_;  // destroyed before the hub
};

}  // namespace tideline::server
