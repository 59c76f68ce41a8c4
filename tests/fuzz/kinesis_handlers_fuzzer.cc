// Every Kinesis operation's request body, through its handler (server/src/handlers.h), against
// one real Store in a scratch directory for the whole run.
//
// Input: the first byte picks the operation ('a' CreateStream ... 'l' PutRecords, 'm'
// SubscribeToShard, see kOps); the rest is the request body. A valid shard iterator, sequence
// number and consumer ARN cannot be guessed (HMAC, store-specific shard uids, creation times), so
// "$IT" in the body is replaced with a fresh TRIM_HORIZON iterator of stream "fuzz" shard 0,
// "$SQ" with the sequence number of a record in it, and "$CA" with the ARN of consumer "fuzzc"
// of stream "fuzz". A SubscribeToShard that is answered with an event stream is cancelled at
// once, as by a client that went away (its hub is real; the stream is never started).
//
// The store starts with streams "fuzz" (2 shards) and "fuzz-one" (1 shard) holding a few
// records. After an input that creates or deletes streams, the store is put back to that set;
// once the puts have written a lot, the store is thrown away and made again, so a long run
// neither fills the disk nor drifts far from the seeded state.
//
// Checked for every response: HTTP 200 or a 400 Kinesis error (bad input never yields a 500),
// a JSON object body (an event stream for a successful SubscribeToShard), and an error body
// whose __type matches the error type.
#include <rapidjson/document.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <future>
#include <memory>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "fuzz_check.h"
#include "handlers.h"
#include "storage/options.h"
#include "storage/store.h"
#include "subscriptions.h"

namespace {

namespace fs = std::filesystem;
using namespace tideline;
using namespace tideline::server;

using Sync = ApiResponse (*)(const HandlerContext&, std::string_view);
using Async = void (*)(const HandlerContext&, std::shared_ptr<std::string>, ResponseCallback,
                       const RespondOn&);

struct Op {
  const char* name;
  Sync sync;
  Async async;
};

constexpr Op kOps[] = {
    {"CreateStream", &HandleCreateStream, nullptr},
    {"DeleteStream", &HandleDeleteStream, nullptr},
    {"ListStreams", &HandleListStreams, nullptr},
    {"DescribeStreamSummary", &HandleDescribeStreamSummary, nullptr},
    {"IncreaseStreamRetentionPeriod", &HandleIncreaseStreamRetentionPeriod, nullptr},
    {"DecreaseStreamRetentionPeriod", &HandleDecreaseStreamRetentionPeriod, nullptr},
    {"DescribeStream", &HandleDescribeStream, nullptr},
    {"ListShards", &HandleListShards, nullptr},
    {"GetShardIterator", &HandleGetShardIterator, nullptr},
    {"GetRecords", &HandleGetRecords, nullptr},
    {"PutRecord", nullptr, &HandlePutRecord},
    {"PutRecords", nullptr, &HandlePutRecords},
    {"SubscribeToShard", &HandleSubscribeToShard, nullptr},
};
constexpr size_t kOpCount = sizeof(kOps) / sizeof(kOps[0]);

constexpr int64_t kNowMs = 1'700'000'000'123;

// Time stands still: the same input always meets the same clock.
class FixedClock final : public Clock {
 public:
  int64_t NowMs() const override { return kNowMs; }
  int64_t MonotonicMs() const override { return 1'000'000; }
};
// Record bytes written before the store is made again.
constexpr uint64_t kResetAfterBytes = 256u << 20;

void CheckResponse(const Op& op, std::string_view body, const ApiResponse& r) {
  const bool ok_status = r.status == 200 || r.status == 400;
  if (!ok_status) {
    std::fprintf(stderr, "%s answered %u %s: %s\nrequest: %.*s\n", op.name, r.status,
                 r.error_type.c_str(), r.body.c_str(), static_cast<int>(body.size()), body.data());
  }
  FUZZ_CHECK(ok_status);
  FUZZ_CHECK((r.status == 200) == r.error_type.empty());
  if (r.stream) {
    FUZZ_CHECK(r.status == 200 && r.content_type == "application/vnd.amazon.eventstream");
    return;
  }
  rapidjson::Document d;
  d.Parse(r.body.data(), r.body.size());
  FUZZ_CHECK(!d.HasParseError() && d.IsObject());
  if (r.status != 200) {
    FUZZ_CHECK(d.HasMember("__type") && d["__type"].IsString() &&
               r.error_type == d["__type"].GetString());
    const char* key = r.error_type == "SerializationException" ? "Message" : "message";
    FUZZ_CHECK(d.HasMember(key) && d[key].IsString());
  }
}

class Harness {
 public:
  Harness() : root_(tideline::fuzz::MakeScratchDir("tideline-fuzz-handlers")) { Reset(); }

  ApiResponse Call(const Op& op, std::string body) {
    ApiResponse r;
    if (op.sync) {
      r = op.sync(ctx_, body);
    } else {
      std::promise<ApiResponse> promise;
      auto future = promise.get_future();
      op.async(ctx_, std::make_shared<std::string>(body),
               [&promise](ApiResponse resp) { promise.set_value(std::move(resp)); }, {});
      r = future.get();
      put_bytes_ += r.bytes;
    }
    CheckResponse(op, body, r);
    if (r.stream) r.stream->Cancel();  // frees the consumer's shard for the next input
    return r;
  }

  void Run(const Op& op, std::string body) {
    Substitute(body, "$IT", [this] { return Iterator(); });
    Substitute(body, "$SQ", [this] { return sequence_number_; });
    Substitute(body, "$CA", [this] { return consumer_arn_; });
    Call(op, std::move(body));
    if (op.sync == &HandleCreateStream || op.sync == &HandleDeleteStream) Restore();
    if (put_bytes_ > kResetAfterBytes) Reset();
  }

 private:
  template <typename Fn>
  static void Substitute(std::string& body, std::string_view token, Fn value) {
    size_t at = body.find(token);
    if (at == std::string::npos) return;
    const std::string v = value();
    for (; at != std::string::npos; at = body.find(token, at + v.size())) {
      body.replace(at, token.size(), v);
    }
  }

  static std::string Field(const ApiResponse& r, const char* key) {
    rapidjson::Document d;
    d.Parse(r.body.data(), r.body.size());
    FUZZ_CHECK(!d.HasParseError());
    return Field(d, key);
  }
  static std::string Field(const rapidjson::Value& v, const char* key) {
    FUZZ_CHECK(v.IsObject() && v.HasMember(key) && v[key].IsString());
    return v[key].GetString();
  }

  std::string Iterator() {
    const ApiResponse r = Call(kOps[8], R"({"StreamName":"fuzz","ShardId":"shardId-000000000000",)"
                                        R"("ShardIteratorType":"TRIM_HORIZON"})");
    FUZZ_CHECK(r.status == 200);
    return Field(r, "ShardIterator");
  }

  // The store as every input expects it: the two streams, with records.
  void Seed() {
    FUZZ_CHECK(Call(kOps[0], R"({"StreamName":"fuzz","ShardCount":2})").status == 200);
    FUZZ_CHECK(Call(kOps[0], R"({"StreamName":"fuzz-one","ShardCount":1})").status == 200);
    const ApiResponse first =
        Call(kOps[10],
             R"({"StreamName":"fuzz","Data":"aGVsbG8=","PartitionKey":"a","ExplicitHashKey":"0"})");
    FUZZ_CHECK(first.status == 200);
    sequence_number_ = Field(first, "SequenceNumber");
    FUZZ_CHECK(Call(kOps[11], R"({"StreamName":"fuzz","Records":[)"
                              R"({"Data":"eyJhIjoxfQ==","PartitionKey":"b"},)"
                              R"({"Data":"","PartitionKey":"c","ExplicitHashKey":"1"}]})")
                   .status == 200);
    FUZZ_CHECK(
        Call(kOps[10], R"({"StreamName":"fuzz-one","Data":"AA==","PartitionKey":"d"})").status ==
        200);
    const ApiResponse consumer = HandleRegisterStreamConsumer(
        ctx_, R"({"StreamARN":"arn:aws:kinesis:us-east-1:123456789012:stream/fuzz",)"
              R"("ConsumerName":"fuzzc"})");
    FUZZ_CHECK(consumer.status == 200);
    rapidjson::Document d;
    d.Parse(consumer.body.data(), consumer.body.size());
    FUZZ_CHECK(!d.HasParseError() && d.HasMember("Consumer") && d["Consumer"].IsObject());
    consumer_arn_ = Field(d["Consumer"], "ConsumerARN");
  }

  // Deletes streams an input created and recreates the seeded ones it deleted.
  void Restore() {
    bool seeded = true;
    for (const StreamName& name : store_->ListStreams("", 1000)) {
      if (name.get() != "fuzz" && name.get() != "fuzz-one") {
        FUZZ_CHECK(store_->DeleteStream(name).ok());
      }
    }
    for (const char* name : {"fuzz", "fuzz-one"}) {
      if (!store_->DescribeStream(StreamName(name)).ok()) seeded = false;
    }
    if (!seeded) {
      for (const char* name : {"fuzz", "fuzz-one"}) {
        (void)store_->DeleteStream(StreamName(name));  // NotFound for the deleted one
      }
      Seed();
    }
  }

  void Reset() {
    ctx_.store = nullptr;
    ctx_.subscriptions = nullptr;
    hub_.reset();  // stops it before its store goes
    store_.reset();
    fs::remove_all(root_ / "store");
    storage::StoreOptions o;
    o.data_dir = root_ / "store";
    o.durability = storage::Durability::kNone;  // no fsync: nothing here survives the run
    o.shard_limit = 20;
    o.block_cache_bytes = 8u << 20;
    o.status_delay = std::chrono::milliseconds(0);  // the clock is fixed: ACTIVE at once
    static const FixedClock clock;
    storage::StoreHooks hooks;
    hooks.clock = &clock;
    auto opened = storage::Store::Open(o, hooks);
    FUZZ_CHECK(opened.ok());
    store_ = std::move(*opened);
    ctx_.store = store_.get();
    ctx_.now_ms = [] { return kNowMs; };
    SubscriptionOptions subscriptions;
    subscriptions.threads = 1;
    hub_ = std::make_unique<SubscriptionHub>(*store_, subscriptions);
    ctx_.subscriptions = hub_.get();
    put_bytes_ = 0;
    Seed();
  }

  const fs::path root_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<SubscriptionHub> hub_;
  HandlerContext ctx_;
  std::string sequence_number_;
  std::string consumer_arn_;
  uint64_t put_bytes_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Never destroyed: the store's threads would outlive libFuzzer's exit() otherwise.
  static Harness* harness = new Harness();
  if (size < 1) return 0;
  const Op& op = kOps[static_cast<uint8_t>(data[0] - 'a') % kOpCount];
  harness->Run(op, std::string(reinterpret_cast<const char*>(data + 1), size - 1));
  return 0;
}
