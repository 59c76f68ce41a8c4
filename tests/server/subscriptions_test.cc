// SubscribeToShard end to end below the HTTP layer (subscription_fixture.h): positions,
// pushed commits, continuation, backpressure, takeover, heartbeats, endings, refusals, CBOR.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cbor_codec.h"
#include "storage/sequence_number.h"
#include "subscription_fixture.h"

namespace tideline::server {
namespace {

using namespace std::chrono_literals;

TEST_F(SubscriptionTest, EveryStartingPositionStartsWhereGetShardIteratorWould) {
  CreateStream("s", 1);
  const auto seqs = Put("s", {"a", "b"});
  clock_.StepWallMs(1000);
  const int64_t at_c = clock_.NowMs();
  const auto later = Put("s", {"c", "d", "e"});
  const std::string ts = fmt::format("{}.{:03}", at_c / 1000, at_c % 1000);
  const std::vector<std::pair<std::string, std::vector<std::string>>> cases = {
      {R"({"Type":"TRIM_HORIZON"})", {"a", "b", "c", "d", "e"}},
      {R"({"Type":"LATEST"})", {}},
      {R"({"Type":"AT_SEQUENCE_NUMBER","SequenceNumber":")" + seqs[1] + R"("})",
       {"b", "c", "d", "e"}},
      {R"({"Type":"AFTER_SEQUENCE_NUMBER","SequenceNumber":")" + seqs[1] + R"("})",
       {"c", "d", "e"}},
      {R"({"Type":"AT_TIMESTAMP","Timestamp":)" + ts + "}", {"c", "d", "e"}},
  };
  int n = 0;
  for (const auto& [position, expected] : cases) {
    SCOPED_TRACE(position);
    auto sink = Start(Register("s", fmt::format("c{}", n++)), position);
    ASSERT_TRUE(sink->WaitForMessages(2));
    const std::vector<Message> m = sink->messages();
    EXPECT_EQ(m[0].Header(":event-type"), "initial-response");
    EXPECT_EQ(m[0].Header(":content-type"), "application/json");
    EXPECT_EQ(m[0].payload, "{}");
    const Event first = ParseEvent(m[1]);
    EXPECT_EQ(first.data, expected);
    EXPECT_EQ(first.millis_behind, 0) << "the event reached the tip";
    // Every case read to the end: the continuation is the last record's, whatever was sent.
    EXPECT_EQ(first.continuation, later.back());
  }
}

TEST_F(SubscriptionTest, RecordsArePushedAsTheirCommitLands) {
  CreateStream("s", 1);
  auto sink = Start(Register("s", "c"), R"({"Type":"LATEST"})");
  ASSERT_TRUE(sink->WaitForMessages(2));
  // The first event comes at once, empty, so the client holds a continuation from the start.
  EXPECT_TRUE(Events(sink->messages())[0].data.empty());
  for (int i = 0; i < 20; ++i) {
    const std::string data = fmt::format("r{}", i);
    Put("s", {data});
    // No clock moves here: only the commit can wake the subscription.
    ASSERT_TRUE(sink->WaitUntil([&] { return CountRecords(sink->messages_locked()) == i + 1u; }))
        << "record " << i << " was not pushed";
  }
  std::vector<std::string> expected;
  for (int i = 0; i < 20; ++i)
    expected.push_back(fmt::format("r{}", i));
  EXPECT_EQ(AllData(sink->messages()), expected);
  const SubscriptionStats stats = hub_->Stats();
  EXPECT_EQ(stats.records, 20u);
  EXPECT_GE(stats.events, 2u);
  EXPECT_EQ(stats.active, 1u);
}

TEST_F(SubscriptionTest, ContinuationResumesWithoutGapOrRepeatEvenBeforeAnyRecord) {
  CreateStream("s", 1);
  const std::string arn = Register("s", "c");
  // An empty shard under LATEST: the continuation names "before the first record".
  auto first = Start(arn, R"({"Type":"LATEST"})");
  ASSERT_TRUE(first->WaitForMessages(2));
  std::optional<std::string> continuation = Events(first->messages()).back().continuation;
  ASSERT_TRUE(continuation);
  Put("s", {"a", "b"});
  ASSERT_TRUE(first->WaitUntil([&] { return CountRecords(first->messages_locked()) == 2; }));
  // The subscription's time is up: its stream ends cleanly.
  Advance(std::chrono::milliseconds(300'000));
  ASSERT_TRUE(first->WaitForEnd());
  continuation = Events(first->messages()).back().continuation;
  Put("s", {"c", "d"});
  // Renewed with the last continuation: exactly what came after it.
  auto second =
      Start(arn, R"({"Type":"AFTER_SEQUENCE_NUMBER","SequenceNumber":")" + *continuation + "\"}");
  ASSERT_TRUE(second->WaitUntil([&] { return CountRecords(second->messages_locked()) == 2; }));
  EXPECT_EQ(AllData(second->messages()), (std::vector<std::string>{"c", "d"}));

  // The very first continuation, from before any record, resumes at the first record.
  Advance(std::chrono::milliseconds(300'000));
  ASSERT_TRUE(second->WaitForEnd());
  auto again = Start(arn, R"({"Type":"AFTER_SEQUENCE_NUMBER","SequenceNumber":")" +
                              *Events(first->messages()).front().continuation + "\"}");
  ASSERT_TRUE(again->WaitUntil([&] { return CountRecords(again->messages_locked()) == 4; }));
  EXPECT_EQ(AllData(again->messages()), (std::vector<std::string>{"a", "b", "c", "d"}));
}

TEST_F(SubscriptionTest, SlowClientHoldsOneEventInFlightAndOnePrepared) {
  SubscriptionOptions options;
  options.max_event_record_bytes = 64;  // one record of 60 bytes per event
  StartHub(options);
  CreateStream("s", 1);
  std::vector<std::string> data;
  for (int i = 0; i < 8; ++i)
    data.push_back(std::string(59, static_cast<char>('a' + i)));
  Put("s", data);
  auto sink = Start(Register("s", "c"), R"({"Type":"TRIM_HORIZON"})", "shardId-000000000000",
                    /*auto_ack=*/false);
  for (size_t acked = 0; acked < 8; ++acked) {
    // The event after the one being written is prepared, and nothing more is written until
    // the sink takes what it has.
    const size_t writes = sink->writes();
    // The hub holds more than the sink has unacknowledged once the next event is prepared
    // (a condition with a deadline: nothing signals it).
    const auto deadline = std::chrono::steady_clock::now() + testing::Scaled(kWait);
    bool prepared = false;
    while (!prepared && std::chrono::steady_clock::now() < deadline) {
      prepared = hub_->Stats().buffered_bytes > sink->unacked_bytes();
      if (!prepared) std::this_thread::yield();
    }
    ASSERT_TRUE(prepared) << "no event was prepared while one was being written";
    EXPECT_EQ(sink->writes(), writes) << "written without waiting for the sink";
    EXPECT_EQ(CountRecords(sink->messages()), acked);
    sink->AckAll();
    ASSERT_TRUE(
        sink->WaitUntil([&] { return CountRecords(sink->messages_locked()) == acked + 1; }));
  }
  EXPECT_EQ(AllData(sink->messages()), data);
}

TEST_F(SubscriptionTest, SecondSubscriptionWithinTheWindowIsRefusedAndALaterOneTakesOver) {
  CreateStream("s", 1);
  const std::string arn = Register("s", "c");
  auto first = Start(arn, R"({"Type":"LATEST"})");
  ASSERT_TRUE(first->WaitForMessages(2));
  Advance(4999ms);
  ExpectErrorType(Subscribe(arn, R"({"Type":"LATEST"})"), "ResourceInUseException");
  // Another shard, or another consumer, is another subscription.
  CreateStream("t", 2);
  const std::string other = Register("t", "c");
  auto sink_t0 = Start(other, R"({"Type":"LATEST"})");
  auto sink_t1 = Start(other, R"({"Type":"LATEST"})", "shardId-000000000001");

  Advance(1ms);
  auto second = Start(arn, R"({"Type":"LATEST"})");
  ASSERT_TRUE(first->WaitForEnd());
  const std::vector<Message> m = first->messages();
  EXPECT_EQ(m.back().Header(":message-type"), "exception");
  EXPECT_EQ(m.back().Header(":exception-type"), "ResourceInUseException");
  ASSERT_TRUE(second->WaitForMessages(2));
  EXPECT_FALSE(second->ended());
  EXPECT_EQ(hub_->Stats().active, 3u);
}

TEST_F(SubscriptionTest, TakeoverWindowNeverExceedsTheDuration) {
  SubscriptionOptions options;
  options.duration = 800ms;
  StartHub(options);
  EXPECT_EQ(hub_->TakeoverWindow(), 800ms);
  CreateStream("s", 1);
  const std::string arn = Register("s", "c");
  auto first = Start(arn, R"({"Type":"LATEST"})");
  ASSERT_TRUE(first->WaitForMessages(2));
  ExpectErrorType(Subscribe(arn, R"({"Type":"LATEST"})"), "ResourceInUseException");
  // At the end of its duration a client renews at once.
  Advance(800ms);
  ASSERT_TRUE(first->WaitForEnd());
  EXPECT_EQ(first->messages().back().Header(":message-type"), "event") << "a clean end";
  auto second = Start(arn, R"({"Type":"LATEST"})");
  ASSERT_TRUE(second->WaitForMessages(2));
}

TEST_F(SubscriptionTest, IdleSubscriptionSendsAHeartbeatEveryFiveSeconds) {
  CreateStream("s", 1);
  Put("s", {"a"});
  auto sink = Start(Register("s", "c"), R"({"Type":"TRIM_HORIZON"})");
  ASSERT_TRUE(sink->WaitForMessages(2));
  Advance(4999ms);
  Advance(1ms);
  ASSERT_TRUE(sink->WaitForMessages(3));
  const std::vector<Event> events = Events(sink->messages());
  ASSERT_EQ(events.size(), 2u);
  EXPECT_TRUE(events[1].data.empty());
  EXPECT_EQ(events[1].millis_behind, 0);
  EXPECT_EQ(events[1].continuation, events[0].continuation);
  Advance(5000ms);
  ASSERT_TRUE(sink->WaitForMessages(4));
}

TEST_F(SubscriptionTest, DeregisteringTheConsumerEndsItsSubscriptions) {
  CreateStream("s", 2);
  const std::string arn = Register("s", "c");
  auto a = Start(arn, R"({"Type":"LATEST"})");
  auto b = Start(arn, R"({"Type":"LATEST"})", "shardId-000000000001");
  auto other = Start(Register("s", "d"), R"({"Type":"LATEST"})");
  ASSERT_TRUE(a->WaitForMessages(2) && b->WaitForMessages(2) && other->WaitForMessages(2));
  const ApiResponse r = HandleDeregisterStreamConsumer(ctx_, R"({"ConsumerARN":")" + arn + "\"}");
  ASSERT_EQ(r.status, 200u) << r.body;
  for (auto* sink : {a.get(), b.get()}) {
    ASSERT_TRUE(sink->WaitForEnd());
    EXPECT_EQ(sink->messages().back().Header(":exception-type"), "ResourceNotFoundException");
  }
  EXPECT_FALSE(other->ended());
  EXPECT_EQ(hub_->Stats().active, 1u);
  ExpectErrorType(Subscribe(arn, R"({"Type":"LATEST"})"), "ResourceNotFoundException");
}

TEST_F(SubscriptionTest, DeletingTheStreamEndsItsSubscriptions) {
  CreateStream("s", 1);
  auto sink = Start(Register("s", "c"), R"({"Type":"LATEST"})");
  ASSERT_TRUE(sink->WaitForMessages(2));
  ASSERT_EQ(HandleDeleteStream(ctx_, R"({"StreamName":"s"})").status, 200u);
  ASSERT_TRUE(sink->WaitForEnd());
  const Message last = sink->messages().back();
  EXPECT_EQ(last.Header(":exception-type"), "ResourceNotFoundException");
  EXPECT_NE(last.payload.find("Stream s under account 123456789012 not found"), std::string::npos)
      << last.payload;
  EXPECT_EQ(hub_->Stats().active, 0u);
}

TEST_F(SubscriptionTest, ShardEndSendsChildShardsWithoutContinuationAndEnds) {
  CreateStream("s", 1);
  const std::string arn = Register("s", "c");
  const auto seqs = Put("s", {"a", "b"});
  auto sink = Start(arn, R"({"Type":"TRIM_HORIZON"})");
  ASSERT_TRUE(sink->WaitUntil([&] { return CountRecords(sink->messages_locked()) == 2; }));
  const ApiResponse split =
      HandleSplitShard(ctx_, R"({"StreamName":"s","ShardToSplit":"shardId-000000000000",)"
                             R"("NewStartingHashKey":"170141183460469231731687303715884105728"})");
  ASSERT_EQ(split.status, 200u) << split.body;
  ASSERT_TRUE(sink->WaitForEnd());
  const std::vector<Event> events = Events(sink->messages());
  const Event& last = events.back();
  EXPECT_TRUE(last.data.empty());
  EXPECT_FALSE(last.continuation) << "the shard's end has no continuation";
  ASSERT_TRUE(last.has_child_shards);
  EXPECT_EQ(last.child_shards,
            (std::vector<std::string>{"shardId-000000000001", "shardId-000000000002"}));
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    EXPECT_TRUE(events[i].continuation) << "only the last event lacks it";
    EXPECT_FALSE(events[i].has_child_shards);
  }
  EXPECT_EQ(AllData(sink->messages()), (std::vector<std::string>{"a", "b"}));

  // Subscribing after the closed shard's last record gives the end at once (the ended
  // subscription holds nothing; the next call a second later, as the call rate allows).
  Advance(1000ms);
  auto again =
      Start(arn, R"({"Type":"AFTER_SEQUENCE_NUMBER","SequenceNumber":")" + seqs[1] + "\"}");
  ASSERT_TRUE(again->WaitForEnd());
  const std::vector<Event> end = Events(again->messages());
  ASSERT_EQ(end.size(), 1u);
  EXPECT_TRUE(end[0].has_child_shards);
  EXPECT_FALSE(end[0].continuation);
}

TEST_F(SubscriptionTest, CancelledSubscriptionFreesItsPairAndItsBytes) {
  CreateStream("s", 1);
  const std::string arn = Register("s", "c");
  Put("s", {"a", "b"});
  ApiResponse r = Subscribe(arn, R"({"Type":"TRIM_HORIZON"})");
  ASSERT_TRUE(r.stream);
  auto sink = NewSink(/*auto_ack=*/false);
  r.stream->Start(sink);
  ASSERT_TRUE(sink->WaitForMessages(1));
  r.stream->Cancel();  // the client went away; `written` will never run
  EXPECT_EQ(hub_->Stats().active, 0u);
  EXPECT_EQ(hub_->Stats().buffered_bytes, 0u);
  // Its pair is free at once, but the call rate holds: one accepted call a second per consumer
  // and shard.
  ExpectErrorType(Subscribe(arn, R"({"Type":"TRIM_HORIZON"})"), "LimitExceededException");
  Advance(999ms);
  ExpectErrorType(Subscribe(arn, R"({"Type":"TRIM_HORIZON"})"), "LimitExceededException");
  Advance(1ms);
  auto next = Start(arn, R"({"Type":"TRIM_HORIZON"})");
  ASSERT_TRUE(next->WaitUntil([&] { return CountRecords(next->messages_locked()) == 2; }));
}

TEST_F(SubscriptionTest, CallRateNeverExceedsTheDuration) {
  SubscriptionOptions options;
  options.duration = 300ms;
  StartHub(options);
  CreateStream("s", 1);
  const std::string arn = Register("s", "c");
  ApiResponse r = Subscribe(arn, R"({"Type":"LATEST"})");
  ASSERT_TRUE(r.stream);
  auto sink = NewSink();
  r.stream->Start(sink);
  r.stream->Cancel();
  ExpectErrorType(Subscribe(arn, R"({"Type":"LATEST"})"), "LimitExceededException");
  Advance(300ms);
  auto next = Start(arn, R"({"Type":"LATEST"})");
  ASSERT_TRUE(next->WaitForMessages(2));
}

TEST_F(SubscriptionTest, StopEndsEverySubscriptionAndRefusesNewOnes) {
  CreateStream("s", 1);
  auto running = Start(Register("s", "c"), R"({"Type":"LATEST"})");
  ASSERT_TRUE(running->WaitForMessages(2));
  // Answered but not started when the hub stops: its stream still says something and ends.
  const std::string arn = Register("s", "d");
  ApiResponse pending = Subscribe(arn, R"({"Type":"LATEST"})");
  ASSERT_TRUE(pending.stream);
  hub_->Stop();
  ASSERT_TRUE(running->WaitForEnd());
  EXPECT_EQ(running->messages().back().Header(":message-type"), "event") << "a clean end";
  auto late = NewSink();
  pending.stream->Start(late);
  ASSERT_TRUE(late->WaitForEnd());
  ASSERT_EQ(late->messages().size(), 1u);
  EXPECT_EQ(late->messages().front().Header(":event-type"), "initial-response");
  const ApiResponse refused = Subscribe(arn, R"({"Type":"LATEST"})");
  EXPECT_EQ(refused.status, 503u) << refused.body;
  EXPECT_FALSE(refused.stream);
  EXPECT_EQ(hub_->Stats().active, 0u);
}

TEST_F(SubscriptionTest, RequestsRefusedBeforeTheStreamStarts) {
  CreateStream("s", 1);
  const std::string arn = Register("s", "c");
  const auto seqs = Put("s", {"a"});
  ExpectErrorType(Subscribe("arn:aws:kinesis:us-east-1:123456789012:stream/s/consumer/x:1",
                            R"({"Type":"LATEST"})"),
                  "ResourceNotFoundException");
  ExpectErrorType(Subscribe("arn:aws:kinesis:eu-west-1:123456789012:stream/s/consumer/c:1",
                            R"({"Type":"LATEST"})"),
                  "ResourceNotFoundException");
  ExpectErrorType(Subscribe(arn, R"({"Type":"LATEST"})", "shardId-000000000009"),
                  "ResourceNotFoundException");
  ExpectErrorType(Subscribe(arn, R"({"Type":"AT_SEQUENCE_NUMBER"})"), "InvalidArgumentException");
  ExpectErrorType(Subscribe(arn, R"({"Type":"AT_TIMESTAMP"})"), "InvalidArgumentException");
  ExpectErrorType(Subscribe(arn, R"({"Type":"AFTER_SEQUENCE_NUMBER","SequenceNumber":"12"})"),
                  "InvalidArgumentException");
  // A sequence number of the shard that was never issued.
  const auto pos = DecodeSequenceNumber(seqs[0]);
  ASSERT_TRUE(pos);
  const std::string unissued = EncodeSequenceNumber({pos->shard_uid, 99}).get();
  ExpectErrorType(
      Subscribe(arn, R"({"Type":"AT_SEQUENCE_NUMBER","SequenceNumber":")" + unissued + "\"}"),
      "InvalidArgumentException");
  EXPECT_EQ(Subscribe(arn, R"({"Type":"BOGUS"})").error_type, "ValidationException");
  EXPECT_EQ(Subscribe(arn, R"("LATEST")").error_type, "SerializationException");
  // A consumer still CREATING is not ACTIVE.
  ctx_.status_delay = 10'000ms;
  const std::string creating = Register("s", "new");
  ExpectErrorType(Subscribe(creating, R"({"Type":"LATEST"})"), "ResourceInUseException");
  ctx_.status_delay = 0ms;
  EXPECT_EQ(hub_->Stats().active, 0u) << "nothing refused was registered";
}

TEST_F(SubscriptionTest, CborRequestGetsCborEvents) {
  CreateStream("s", 1);
  Put("s", {std::string("\x00\xff"
                        "bin",
                        5)});
  ctx_.cbor = true;
  auto sink = Start(Register("s", "c"), R"({"Type":"TRIM_HORIZON"})");
  ASSERT_TRUE(sink->WaitForMessages(2));
  const std::vector<Message> m = sink->messages();
  EXPECT_EQ(m[0].Header(":content-type"), "application/x-amz-cbor-1.1");
  EXPECT_EQ(m[0].payload, std::string("\xa0", 1)) << "an empty CBOR map";
  EXPECT_EQ(m[1].Header(":content-type"), "application/x-amz-cbor-1.1");
  // Back to JSON through the request decoder: Data was a byte string, the timestamp tag 1.
  Result<std::string> json = cbor::DecodeRequest(m[1].payload);
  ASSERT_TRUE(json.ok()) << json.status().ToString();
  Message as_json = m[1];
  as_json.payload = *json;
  const Event e = ParseEvent(as_json);
  EXPECT_EQ(e.data, (std::vector<std::string>{std::string("\x00\xff"
                                                          "bin",
                                                          5)}));
  EXPECT_TRUE(e.continuation);
}

}  // namespace
}  // namespace tideline::server
