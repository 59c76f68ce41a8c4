// A pipeline over a real store: readers, transform results, buffer, file destination, backup and
// checkpoints, including restarts, failing destinations and backups, and backpressure.
#include "pipeline/pipeline.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <atomic>
#include <condition_variable>
#include <fstream>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "storage/sequence_number.h"
#include "test_util/test_store.h"
#include "test_util/time_factor.h"

namespace tideline::pipeline {
namespace {

namespace fs = std::filesystem;

// "drop..." -> Dropped, "fail..." -> ProcessingFailed, "raw..." stays text, anything else
// becomes {"line": data, "n": <len>}.
class TestProcessor final : public Processor {
 public:
  std::string_view type() const override { return "test"; }
  void Process(RecordBatch& batch) override {
    for (PipelineRecord& r : batch.records()) {
      if (!r.ok()) continue;
      if (r.data.starts_with("drop")) {
        r.result = RecordResult::kDropped;
      } else if (r.data.starts_with("fail")) {
        RecordBatch::Fail(r, "Test.Failed", "asked to fail");
      } else if (!r.data.starts_with("raw")) {
        JsonValue v(rapidjson::kObjectType);
        v.AddMember("line",
                    JsonValue(r.data.data(), static_cast<rapidjson::SizeType>(r.data.size()),
                              batch.allocator()),
                    batch.allocator());
        v.AddMember("n", static_cast<uint64_t>(r.data.size()), batch.allocator());
        batch.SetJson(r, std::move(v));
      }
    }
  }
};

// Delegates to a file destination after failing the first `failures` calls; can also be held
// closed (blocking) until released.
class ControlledDestination final : public Destination {
 public:
  ControlledDestination(std::unique_ptr<Destination> inner, int failures)
      : inner_(std::move(inner)), failures_(failures) {}
  std::string_view type() const override { return "file"; }
  std::string description() const override { return inner_->description(); }
  Status Deliver(std::span<const Document> docs, std::span<DeliveryResult> results,
                 std::stop_token stop) override {
    {
      std::unique_lock<std::mutex> lock(mu_);
      ++calls_;
      cv_.wait(lock, [&] { return open_ || stop.stop_requested(); });
      if (stop.stop_requested()) return Status::Unavailable("stopping");
      if (failures_ > 0) {
        --failures_;
        return Status::Unavailable("destination down on purpose");
      }
    }
    return inner_->Deliver(docs, results, stop);
  }
  void SetOpen(bool open) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      open_ = open;
    }
    cv_.notify_all();
  }
  int calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }
  // How many more calls fail.
  void SetFailures(int failures) {
    std::lock_guard<std::mutex> lock(mu_);
    failures_ = failures;
  }

 private:
  std::unique_ptr<Destination> inner_;
  std::mutex mu_;
  std::condition_variable cv_;
  int failures_;
  int calls_ = 0;
  bool open_ = true;
};

// Delegates to a file destination, records the sequence numbers of every call, and can hold
// calls at a gate. A held call returns (Unavailable) as soon as its stop token is triggered,
// like a real destination's request being abandoned.
class GateDestination final : public Destination {
 public:
  explicit GateDestination(std::unique_ptr<Destination> inner) : inner_(std::move(inner)) {}
  std::string_view type() const override { return "file"; }
  std::string description() const override { return inner_->description(); }
  Status Deliver(std::span<const Document> docs, std::span<DeliveryResult> results,
                 std::stop_token stop) override {
    {
      std::unique_lock<std::mutex> lock(mu_);
      std::vector<uint64_t> offsets;
      for (const Document& d : docs) {
        auto pos = DecodeSequenceNumber(d.sequence_number);
        offsets.push_back(pos ? pos->offset : 0);
      }
      calls_.push_back(std::move(offsets));
      changed_.notify_all();
      if (!changed_.wait(lock, stop, [&] { return open_; })) {
        return Status::Unavailable("stopping");
      }
    }
    return inner_->Deliver(docs, results, stop);
  }
  void SetOpen(bool open) {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = open;
    changed_.notify_all();
  }
  // Waits (bounded) until `n` calls have started; returns the offsets of call n (1-based).
  std::optional<std::vector<uint64_t>> WaitForCall(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!changed_.wait_for(lock, tideline::testing::Scaled(std::chrono::seconds(30)),
                           [&] { return calls_.size() >= n; })) {
      return std::nullopt;
    }
    return calls_[n - 1];
  }

 private:
  std::unique_ptr<Destination> inner_;
  std::mutex mu_;
  std::condition_variable_any changed_;
  std::vector<std::vector<uint64_t>> calls_;  // GUARDED_BY(mu_)
  bool open_ = false;                         // GUARDED_BY(mu_)
};

// A store whose Read fails while fail_reads is set, as a damaged disk would; everything else
// goes to the real store.
class ReadFaultStore final : public storage::Store {
 public:
  explicit ReadFaultStore(storage::Store& inner) : inner_(inner) {}
  std::atomic<bool> fail_reads{false};

  using Store::CreateStream;
  Status CreateStream(const StreamName& name, uint32_t shard_count,
                      const storage::StreamAttributes& attributes) override {
    return inner_.CreateStream(name, shard_count, attributes);
  }
  uint32_t ShardLimit() const override { return inner_.ShardLimit(); }
  storage::AccountSettings GetAccountSettings() const override {
    return inner_.GetAccountSettings();
  }
  Status UpdateAccountSettings(const AccountSettingsUpdate& update) override {
    return inner_.UpdateAccountSettings(update);
  }
  Result<storage::StreamAttributes> GetStreamAttributes(const StreamName& name) const override {
    return inner_.GetStreamAttributes(name);
  }
  Status UpdateStreamAttributes(const StreamName& name, const AttributesUpdate& update) override {
    return inner_.UpdateStreamAttributes(name, update);
  }
  Status DeleteStream(const StreamName& name) override { return inner_.DeleteStream(name); }
  std::vector<StreamName> ListStreams(std::string_view start, size_t limit) const override {
    return inner_.ListStreams(start, limit);
  }
  Result<storage::StreamInfo> DescribeStream(const StreamName& name) const override {
    return inner_.DescribeStream(name);
  }
  Result<storage::StreamStatus> GetStreamStatus(const StreamName& name) const override {
    return inner_.GetStreamStatus(name);
  }
  Status SetRetentionHours(const StreamName& name, int hours) override {
    return inner_.SetRetentionHours(name, hours);
  }
  Status SplitShard(const StreamName& stream, const ShardId& shard, HashKey key) override {
    return inner_.SplitShard(stream, shard, key);
  }
  Status MergeShards(const StreamName& stream, const ShardId& shard,
                     const ShardId& adjacent) override {
    return inner_.MergeShards(stream, shard, adjacent);
  }
  Result<ShardCountChange> UpdateShardCount(const StreamName& stream, uint32_t target,
                                            storage::ScalingType scaling) override {
    return inner_.UpdateShardCount(stream, target, scaling);
  }
  void AppendAsync(const StreamName& stream, std::span<const storage::AppendRecord> records,
                   storage::AppendCallback done) override {
    inner_.AppendAsync(stream, records, std::move(done));
  }
  Result<Offset> ResolvePosition(const StreamName& stream, const ShardId& shard,
                                 const storage::StreamPosition& position) const override {
    return inner_.ResolvePosition(stream, shard, position);
  }
  Result<storage::ReadSummary> Read(
      const StreamName& stream, const ShardId& shard, Offset from,
      const storage::ReadLimits& limits,
      const std::function<void(const storage::RecordView&)>& visit) const override {
    if (fail_reads.load()) return Status::IOError("injected read fault");
    return inner_.Read(stream, shard, from, limits, visit);
  }
  Result<Offset> WaitForRecords(const StreamName& stream, const ShardId& shard, Offset after,
                                std::chrono::milliseconds timeout) const override {
    return inner_.WaitForRecords(stream, shard, after, timeout);
  }
  void WakeWaiters() const override { inner_.WakeWaiters(); }
  uint64_t AddCommitObserver(CommitObserver observer) const override {
    return inner_.AddCommitObserver(std::move(observer));
  }
  void RemoveCommitObserver(uint64_t id) const override { inner_.RemoveCommitObserver(id); }
  Result<uint64_t> TrimExpired() override { return inner_.TrimExpired(); }
  Status SetCheckpoint(const CheckpointOwner& app, const StreamName& stream, const ShardId& shard,
                       const SequenceNumber& seq) override {
    return inner_.SetCheckpoint(app, stream, shard, seq);
  }
  Status SetCheckpoints(const CheckpointOwner& app, const StreamName& stream,
                        std::span<const ShardCheckpoint> checkpoints) override {
    return inner_.SetCheckpoints(app, stream, checkpoints);
  }
  Status SetCheckpointAtTimestamp(const CheckpointOwner& app, const StreamName& stream,
                                  const ShardId& shard, int64_t timestamp_ms) override {
    return inner_.SetCheckpointAtTimestamp(app, stream, shard, timestamp_ms);
  }
  Result<storage::Checkpoint> GetCheckpoint(const CheckpointOwner& app, const StreamName& stream,
                                            const ShardId& shard) const override {
    return inner_.GetCheckpoint(app, stream, shard);
  }
  std::vector<storage::Checkpoint> ListCheckpoints(const CheckpointOwner& app) const override {
    return inner_.ListCheckpoints(app);
  }
  const std::string& IteratorSecret() const override { return inner_.IteratorSecret(); }
  Status Health() const override { return inner_.Health(); }
  storage::StoreStats Stats() const override { return inner_.Stats(); }

 private:
  storage::Store& inner_;
};

// Polls `done` every 10 ms until it holds or `limit` passes. A pipeline exposes its progress as
// state (checkpoints, status), not as events, so tests poll it; only the overall limit is a time.
template <typename F>
bool PollUntil(F done, std::chrono::milliseconds limit = std::chrono::seconds(30)) {
  const auto deadline = std::chrono::steady_clock::now() + tideline::testing::Scaled(limit);
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

std::vector<std::string> Numbered(const std::string& prefix, int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i)
    out.push_back(prefix + std::to_string(i));
  return out;
}

class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const Status opened = store_.Open();
    ASSERT_TRUE(opened.ok()) << opened.ToString();
    options_.name = "pipe";
    options_.source.stream = StreamName("logs");
    options_.buffer.interval_s = 0;  // flush as soon as anything is buffered
    options_.source.read_max_records = 50;
    file_options_.path = store_.dir().Sub("out");
    options_.destination.options = file_options_;
    options_.backup.path = store_.dir().Sub("backup");
  }

  std::unique_ptr<Pipeline> Start(int destination_failures = 0,
                                  ControlledDestination** control = nullptr) {
    auto file = MakeFileDestination(file_options_, options_.name);
    EXPECT_TRUE(file.ok()) << file.status().ToString();
    auto dest = std::make_unique<ControlledDestination>(std::move(*file), destination_failures);
    if (control != nullptr) *control = dest.get();
    return StartWithDestination(std::move(dest));
  }

  std::unique_ptr<Pipeline> StartWithDestination(std::unique_ptr<Destination> dest) {
    std::vector<std::unique_ptr<Processor>> processors;
    processors.push_back(std::make_unique<TestProcessor>());
    storage::Store& store = source_store_ != nullptr ? *source_store_ : *store_;
    auto p = Pipeline::StartWith(options_, store, std::move(processors), std::move(dest));
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    return p.ok() ? std::move(*p) : nullptr;
  }

  // On a one-shard stream: a pipeline whose first delivery (records `prefix`0..49) is held at
  // a closed gate while the next 50 records wait in its buffer.
  std::unique_ptr<Pipeline> StartHeldWithABufferedBatch(const std::string& prefix,
                                                        GateDestination** gate) {
    EXPECT_TRUE(store_->CreateStream(StreamName("logs"), 1).ok());
    auto file = MakeFileDestination(file_options_, options_.name);
    EXPECT_TRUE(file.ok());
    auto gate_owner = std::make_unique<GateDestination>(std::move(*file));
    *gate = gate_owner.get();
    auto p = StartWithDestination(std::move(gate_owner));
    auto lines = Numbered(prefix, 100);
    Append({lines.begin(), lines.begin() + 50});
    EXPECT_TRUE((*gate)->WaitForCall(1).has_value());
    Append({lines.begin() + 50, lines.end()});
    EXPECT_TRUE(PollUntil([&] { return p->GetStatus().buffered_records == 50; }));
    return p;
  }

  // Appends `lines` to the stream, spread over shards by partition key.
  void Append(const std::vector<std::string>& lines) {
    std::vector<storage::AppendRecord> records;
    std::vector<std::string> keys;
    keys.reserve(lines.size());
    for (size_t i = 0; i < lines.size(); ++i)
      keys.push_back("k" + std::to_string(i));
    for (size_t i = 0; i < lines.size(); ++i)
      records.push_back({keys[i], "", lines[i]});
    auto r = store_->Append(StreamName("logs"), records);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }

  // Waits (bounded) until every shard's checkpoint reaches its last offset.
  bool WaitCaughtUp(Pipeline& p, std::chrono::seconds limit = std::chrono::seconds(30)) {
    return PollUntil(
        [&] {
          auto info = store_->DescribeStream(StreamName("logs"));
          if (!info.ok()) return false;
          for (const auto& shard : info->shards) {
            auto cp = store_->GetCheckpoint(CheckpointOwner("pipe"), StreamName("logs"), shard.id);
            if (!cp.ok() || cp->offset.get() != shard.last_offset.get()) return false;
          }
          return p.GetStatus().state == PipelineState::kRunning;
        },
        limit);
  }

  // "line" fields of every document in the output, with how often each appears.
  std::map<std::string, int> Delivered() {
    std::map<std::string, int> out;
    for (const auto& line : AllLines(fs::path(file_options_.path) / "pipe")) {
      rapidjson::Document d;
      d.Parse(line.c_str());
      EXPECT_FALSE(d.HasParseError()) << line;
      if (d.HasParseError()) continue;
      ++out[d["document"]["line"].GetString()];
    }
    return out;
  }

  static std::vector<std::string> AllLines(const fs::path& dir) {
    std::vector<std::string> lines;
    if (!fs::exists(dir)) return lines;
    for (const auto& e : fs::directory_iterator(dir)) {
      std::ifstream in(e.path());
      for (std::string line; std::getline(in, line);)
        lines.push_back(line);
    }
    return lines;
  }

  testing::TestStore store_;
  // The store the pipeline reads, when not store_ itself (a fault-injecting wrapper).
  storage::Store* source_store_ = nullptr;
  PipelineOptions options_;
  FileDestinationOptions file_options_;
};

TEST_F(PipelineTest, DeliversDropsAndBacksUpEveryRecordThenCheckpoints) {
  ASSERT_TRUE(store_->CreateStream(StreamName("logs"), 4).ok());
  auto p = Start();
  auto lines = Numbered("ok-", 1000);
  for (auto& l : Numbered("drop-", 50))
    lines.push_back(l);
  for (auto& l : Numbered("fail-", 30))
    lines.push_back(l);
  for (auto& l : Numbered("raw-", 20))
    lines.push_back(l);  // not JSON: refused by the file destination
  Append(lines);
  ASSERT_TRUE(WaitCaughtUp(*p));

  const auto delivered = Delivered();
  EXPECT_EQ(delivered.size(), 1000u);
  for (const auto& [line, count] : delivered) {
    EXPECT_TRUE(line.starts_with("ok-")) << line;
    EXPECT_EQ(count, 1) << line;
  }
  EXPECT_EQ(AllLines(fs::path(store_.dir().Sub("backup")) / "pipe" / "processing-failed").size(),
            30u);
  EXPECT_EQ(AllLines(fs::path(store_.dir().Sub("backup")) / "pipe" / "file-failed").size(), 20u);

  const PipelineStatus s = p->GetStatus();
  ASSERT_EQ(s.shards.size(), 4u);
  ShardCounters total;
  for (const auto& sh : s.shards) {
    EXPECT_EQ(sh.checkpoint_offset, sh.last_offset);
    EXPECT_FALSE(sh.checkpoint.empty());
    total.records_read += sh.counters.records_read;
    total.records_transformed += sh.counters.records_transformed;
    total.records_dropped += sh.counters.records_dropped;
    total.records_processing_failed += sh.counters.records_processing_failed;
    total.records_delivered += sh.counters.records_delivered;
    total.records_delivery_failed += sh.counters.records_delivery_failed;
  }
  EXPECT_EQ(total.records_read, 1100u);
  EXPECT_EQ(total.records_transformed, 1020u);  // read - dropped - failed
  EXPECT_EQ(total.records_dropped, 50u);
  EXPECT_EQ(total.records_processing_failed, 30u);
  EXPECT_EQ(total.records_delivered, 1000u);
  EXPECT_EQ(total.records_delivery_failed, 20u);
  EXPECT_EQ(s.read_delay_count, 1100u);
  EXPECT_EQ(s.read_delay_buckets.back(), 1100u);  // cumulative
}

TEST_F(PipelineTest, RestartResumesAfterTheCheckpointWithoutRepeats) {
  ASSERT_TRUE(store_->CreateStream(StreamName("logs"), 2).ok());
  auto p = Start();
  Append(Numbered("ok-a", 300));
  ASSERT_TRUE(WaitCaughtUp(*p));
  p->Stop();
  p.reset();
  Append(Numbered("ok-b", 300));  // while the pipeline is down
  p = Start();
  Append(Numbered("ok-c", 300));
  ASSERT_TRUE(WaitCaughtUp(*p));
  const auto delivered = Delivered();
  EXPECT_EQ(delivered.size(), 900u);
  for (const auto& [line, count] : delivered)
    EXPECT_EQ(count, 1) << line;
}

TEST_F(PipelineTest, ResetToTrimHorizonDeliversHistoryAgainAndKeepsRunning) {
  ASSERT_TRUE(store_->CreateStream(StreamName("logs"), 2).ok());
  auto p = Start();
  Append(Numbered("ok-a", 200));
  ASSERT_TRUE(WaitCaughtUp(*p));
  storage::StreamPosition reset;
  reset.type = storage::StartingPosition::kTrimHorizon;
  ASSERT_TRUE(p->Reset(reset).ok());
  ASSERT_TRUE(WaitCaughtUp(*p));
  Append(Numbered("ok-b", 100));  // still reading after the reset
  ASSERT_TRUE(WaitCaughtUp(*p));
  const auto delivered = Delivered();
  EXPECT_EQ(delivered.size(), 300u);
  for (const auto& [line, count] : delivered)
    EXPECT_EQ(count, line.starts_with("ok-a") ? 2 : 1) << line;
}

TEST_F(PipelineTest, ResetAtSequenceNumberRewindsOnlyThatShard) {
  ASSERT_TRUE(store_->CreateStream(StreamName("logs"), 1).ok());
  auto p = Start();
  Append(Numbered("ok-", 100));
  ASSERT_TRUE(WaitCaughtUp(*p));
  auto info = store_->DescribeStream(StreamName("logs"));
  ASSERT_TRUE(info.ok());
  storage::StreamPosition reset;
  reset.type = storage::StartingPosition::kAtSequenceNumber;
  // Offsets start at 1: offset 61 holds line ok-60.
  reset.sequence_number = SequenceNumberOf(info->shards[0].uid, Offset(61)).get();
  ASSERT_TRUE(p->Reset(reset).ok());
  ASSERT_TRUE(WaitCaughtUp(*p));
  const auto delivered = Delivered();
  ASSERT_EQ(delivered.size(), 100u);
  for (int i = 0; i < 100; ++i)
    EXPECT_EQ(delivered.at("ok-" + std::to_string(i)), i >= 60 ? 2 : 1) << i;
}

TEST_F(PipelineTest, ResetToAnUnknownPositionChangesNothing) {
  ASSERT_TRUE(store_->CreateStream(StreamName("logs"), 1).ok());
  auto p = Start();
  Append(Numbered("ok-", 10));
  ASSERT_TRUE(WaitCaughtUp(*p));
  storage::StreamPosition reset;
  reset.type = storage::StartingPosition::kAtSequenceNumber;
  reset.sequence_number = "12345";
  EXPECT_EQ(p->Reset(reset).code(), StatusCode::kInvalidArgument);
  Append(Numbered("more-", 10));
  ASSERT_TRUE(WaitCaughtUp(*p));
  for (const auto& [line, count] : Delivered())
    EXPECT_EQ(count, 1) << line;
}

TEST_F(PipelineTest, LatestSkipsHistoryAndTheFirstCheckpointMakesItStick) {
  ASSERT_TRUE(store_->CreateStream(StreamName("logs"), 1).ok());
  Append(Numbered("ok-old", 100));
  options_.source.start = storage::StreamPosition::Latest();
  auto p = Start();
  ASSERT_TRUE(WaitCaughtUp(*p));  // the initial checkpoint sits at the end
  p->Stop();
  p.reset();
  Append(Numbered("ok-new", 10));  // after the first start: must be delivered
  p = Start();
  ASSERT_TRUE(WaitCaughtUp(*p));
  const auto delivered = Delivered();
  EXPECT_EQ(delivered.size(), 10u);
  EXPECT_EQ(delivered.count("ok-new0"), 1u);
  EXPECT_EQ(delivered.count("ok-old0"), 0u);
}

TEST_F(PipelineTest, AtTimestampStartsAtTheFirstRecordArrivedThen) {
  ASSERT_TRUE(store_->CreateStream(StreamName("logs"), 2).ok());
  Append(Numbered("ok-before", 50));
  // The next records arrive one millisecond later, at `start`.
  store_.clock().AdvanceMs(1);
  const int64_t start = store_.clock().NowMs();
  Append(Numbered("ok-after", 50));
  options_.source.start = storage::StreamPosition::AtTimestamp(start);
  auto p = Start();
  ASSERT_TRUE(WaitCaughtUp(*p));
  const auto delivered = Delivered();
  EXPECT_EQ(delivered.size(), 50u);
  EXPECT_EQ(delivered.count("ok-after0"), 1u);
  EXPECT_EQ(delivered.count("ok-before49"), 0u);
}

// Records no parser may choke on: a million levels of nesting (recursion would overflow the
// stack), an escape that decodes to a lone surrogate, raw bytes that are not UTF-8 and a number
// beyond a double. Each lands in the backup with the reason; the records around them are
// delivered; a restart reads past them again without a crash.
std::vector<std::string> PoisonRecords() {
  return {std::string(1'000'000, '[') + std::string(1'000'000, ']'),
          "{\"line\":" + std::string(500'000, '[') + "}", R"({"line":"\uDC00"})",
          "{\"line\":\"\xFF\xFE\"}", R"({"line":"x","n":9e308})"};
}

TEST_F(PipelineTest, PoisonRecordsGoToTheBackupAndTheRecordsAroundThemAreDelivered) {
  ASSERT_TRUE(store_->CreateStream(StreamName("logs"), 2).ok());
  std::vector<std::string> lines;
  for (int i = 0; i < 100; ++i) {
    lines.push_back("{\"line\":\"ok-" + std::to_string(i) + "\"}");
    if (i % 20 == 0)
      for (auto& poison : PoisonRecords())
        lines.push_back(poison);
  }
  Append(lines);
  const size_t poisoned = 5 * PoisonRecords().size();
  auto start = [&] {
    std::vector<std::unique_ptr<Processor>> processors;
    auto json = MakeJsonProcessor();
    EXPECT_TRUE(json.ok());
    processors.push_back(std::move(*json));
    auto file = MakeFileDestination(file_options_, options_.name);
    EXPECT_TRUE(file.ok());
    auto p = Pipeline::StartWith(options_, *store_, std::move(processors), std::move(*file));
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    return std::move(*p);
  };
  auto p = start();
  ASSERT_TRUE(WaitCaughtUp(*p));
  EXPECT_EQ(Delivered().size(), 100u);
  const fs::path failed = fs::path(store_.dir().Sub("backup")) / "pipe" / "processing-failed";
  auto backed_up = AllLines(failed);
  ASSERT_EQ(backed_up.size(), poisoned);
  std::map<std::string, int> reasons;
  for (const auto& line : backed_up) {
    rapidjson::Document d;
    d.Parse(line.c_str());
    ASSERT_FALSE(d.HasParseError()) << line.substr(0, 200);  // the backup line is valid JSON
    EXPECT_STREQ(d["errorCode"].GetString(), "Json.ParseFailed");
    const std::string message = d["errorMessage"].GetString();
    if (message.find("nested deeper than 100 levels") != std::string::npos) ++reasons["depth"];
    if (message.find("Invalid UTF-8") != std::string::npos) ++reasons["surrogate"];
    if (message.find("Invalid encoding") != std::string::npos) ++reasons["bytes"];
    if (message.find("Number out of range") != std::string::npos) ++reasons["number"];
  }
  EXPECT_EQ(reasons["depth"], 10);
  EXPECT_EQ(reasons["surrogate"], 5);
  EXPECT_EQ(reasons["bytes"], 5);
  EXPECT_EQ(reasons["number"], 5);
  p->Stop();
  p.reset();

  // Restarted and reset to the start: the same records are read and refused again, nothing
  // crashes, and the pipeline keeps delivering what comes after.
  p = start();
  storage::StreamPosition reset;
  reset.type = storage::StartingPosition::kTrimHorizon;
  ASSERT_TRUE(p->Reset(reset).ok());
  EXPECT_TRUE(PollUntil([&] { return AllLines(failed).size() == 2 * poisoned; }));
  Append({R"({"line":"after"})"});
  ASSERT_TRUE(WaitCaughtUp(*p));
  EXPECT_EQ(Delivered().count("after"), 1u);
  EXPECT_EQ(AllLines(failed).size(), 2 * poisoned);
}

TEST_F(PipelineTest, WaitsForTheStreamToBeCreated) {
  auto p = Start();
  // One snapshot: the supervisor may move from "starting" to "waiting for stream" at any time.
  const PipelineState state = p->GetStatus().state;
  EXPECT_TRUE(state == PipelineState::kWaitingForStream || state == PipelineState::kStarting)
      << PipelineStateName(state);
  ASSERT_TRUE(store_->CreateStream(StreamName("logs"), 2).ok());
  Append(Numbered("ok-", 100));
  ASSERT_TRUE(WaitCaughtUp(*p));
  EXPECT_EQ(Delivered().size(), 100u);
}

TEST_F(PipelineTest, FailingDestinationStallsWithoutCheckpointingThenRecovers) {
  ASSERT_TRUE(store_->CreateStream(StreamName("logs"), 1).ok());
  ControlledDestination* control = nullptr;
  auto p = Start(/*destination_failures=*/1'000'000, &control);
  Append(Numbered("ok-", 20));
  // While every attempt fails the pipeline retries, delivers nothing and moves no checkpoint.
  ASSERT_TRUE(PollUntil([&] { return control->calls() >= 2; }));
  EXPECT_EQ(p->GetStatus().state, PipelineState::kStalled);
  const auto checkpoint = [&] {
    auto cp = store_->GetCheckpoint(CheckpointOwner("pipe"), StreamName("logs"),
                                    ShardId("shardId-000000000000"));
    return cp.ok() ? cp->offset.get() : 0;
  };
  EXPECT_EQ(checkpoint(), 0u);
  EXPECT_TRUE(Delivered().empty());
  control->SetFailures(0);
  ASSERT_TRUE(WaitCaughtUp(*p));  // after the backoff, the next attempt succeeds
  EXPECT_EQ(checkpoint(), 20u);
  const auto delivered = Delivered();
  EXPECT_EQ(delivered.size(), 20u);
  for (const auto& [line, count] : delivered)
    EXPECT_EQ(count, 1) << line;
}

TEST_F(PipelineTest, BlockedDestinationBoundsWhatReadersTakeFromTheBacklog) {
  ASSERT_TRUE(store_->CreateStream(StreamName("logs"), 1).ok());
  options_.buffer.size_mib = 1;  // buffer memory limit 16 MiB
  ControlledDestination* control = nullptr;
  auto p = Start(0, &control);
  control->SetOpen(false);
  // 60 MiB of backlog: far more than the buffer may hold.
  const std::string big(64 << 10, 'x');
  for (int round = 0; round < 10; ++round) {
    std::vector<std::string> lines(96, "ok-" + big);
    for (size_t i = 0; i < lines.size(); ++i)
      lines[i] += std::to_string(round * 1000 + i);
    Append(lines);
  }
  // Give the readers two seconds to take what they can: without a bound they would read the
  // whole backlog in far less.
  uint64_t read = 0;
  PollUntil(
      [&] {
        read = p->GetStatus().shards.empty() ? 0 : p->GetStatus().shards[0].counters.records_read;
        return read >= 960;
      },
      std::chrono::seconds(2));
  EXPECT_LT(read, 960u) << "readers must stop at the buffer's memory limit";
  EXPECT_LE(p->GetStatus().buffered_bytes, 40u << 20);
  control->SetOpen(true);
  ASSERT_TRUE(WaitCaughtUp(*p, std::chrono::seconds(60)));
  EXPECT_EQ(Delivered().size(), 960u);
}

TEST_F(PipelineTest, UnwritableBackupStopsCheckpointsUntilItCanBeWritten) {
  ASSERT_TRUE(store_->CreateStream(StreamName("logs"), 1).ok());
  auto p = Start();
  const fs::path pf = fs::path(store_.dir().Sub("backup")) / "pipe" / "processing-failed";
  // Replace the backup directory by a file: the first backup file cannot be created.
  fs::remove_all(pf);
  std::ofstream(pf.string()) << "in the way";
  Append({"ok-1", "fail-1", "ok-2"});
  ASSERT_TRUE(PollUntil([&] { return p->GetStatus().state == PipelineState::kStalled; }));
  EXPECT_NE(p->GetStatus().message.find("backup"), std::string::npos);
  auto cp = store_->GetCheckpoint(CheckpointOwner("pipe"), StreamName("logs"),
                                  ShardId("shardId-000000000000"));
  ASSERT_TRUE(cp.ok());
  EXPECT_EQ(cp->offset.get(), 0u) << "no checkpoint may pass an unbacked-up failure";
  fs::remove(pf);
  fs::create_directories(pf);
  ASSERT_TRUE(WaitCaughtUp(*p, std::chrono::seconds(60)));
  EXPECT_EQ(AllLines(pf).size(), 1u);
}

TEST_F(PipelineTest, ResetDropsWhatWasBufferedOrInDeliveryBeforeIt) {
  GateDestination* gate = nullptr;
  auto p = StartHeldWithABufferedBatch("ok-", &gate);
  if (HasFailure()) return;

  storage::StreamPosition reset;
  reset.type = storage::StartingPosition::kTrimHorizon;
  ASSERT_TRUE(p->Reset(reset).ok());
  const ShardId shard("shardId-000000000000");
  auto cp = store_->GetCheckpoint(CheckpointOwner("pipe"), StreamName("logs"), shard);
  ASSERT_TRUE(cp.ok());
  EXPECT_EQ(cp->offset.get(), 0u);

  // The first delivery after the reset starts at the reset position, not with the batch that
  // was buffered before it.
  auto first = gate->WaitForCall(2);
  ASSERT_TRUE(first.has_value());
  ASSERT_FALSE(first->empty());
  EXPECT_EQ(first->front(), 1u);
  for (size_t i = 1; i < first->size(); ++i)
    EXPECT_EQ((*first)[i], (*first)[i - 1] + 1);
  cp = store_->GetCheckpoint(CheckpointOwner("pipe"), StreamName("logs"), shard);
  ASSERT_TRUE(cp.ok());
  EXPECT_EQ(cp->offset.get(), 0u) << "nothing read before the reset may move the checkpoint";

  gate->SetOpen(true);
  ASSERT_TRUE(WaitCaughtUp(*p));
  // Nothing was delivered before the reset (the held call was abandoned), so every record is
  // delivered exactly once, from the reset position.
  const auto delivered = Delivered();
  EXPECT_EQ(delivered.size(), 100u);
  for (const auto& [line, count] : delivered)
    EXPECT_EQ(count, 1) << line;
}

TEST_F(PipelineTest, ResetToATimestampDropsTheBufferedBatchesAndCheckpointsFromThere) {
  GateDestination* gate = nullptr;
  auto p = StartHeldWithABufferedBatch("ok-a", &gate);
  if (HasFailure()) return;

  storage::StreamPosition reset;
  reset.type = storage::StartingPosition::kAtTimestamp;
  reset.timestamp_ms = std::numeric_limits<int64_t>::max() / 2;  // after every record: offset 101
  ASSERT_TRUE(p->Reset(reset).ok());
  gate->SetOpen(true);
  Append(Numbered("ok-b", 10));  // offsets 101..110: the only ones to deliver now
  ASSERT_TRUE(WaitCaughtUp(*p));
  const auto delivered = Delivered();
  EXPECT_EQ(delivered.size(), 10u);
  for (const auto& [line, count] : delivered) {
    EXPECT_TRUE(line.starts_with("ok-b")) << line;
    EXPECT_EQ(count, 1) << line;
  }
}

TEST_F(PipelineTest, FailingReadsShowInTheShardStateAndMetricsUntilTheyWork) {
  ASSERT_TRUE(store_->CreateStream(StreamName("logs"), 1).ok());
  ReadFaultStore faulty(*store_);
  faulty.fail_reads = true;
  source_store_ = &faulty;
  auto p = Start();
  Append(Numbered("ok-", 10));
  ASSERT_TRUE(PollUntil([&] {
    const PipelineStatus s = p->GetStatus();
    return s.shards.size() == 1 && s.shards[0].state == "read_failing" &&
           s.shards[0].counters.read_errors >= 2;  // it keeps retrying
  }));
  PipelineStatus s = p->GetStatus();
  EXPECT_NE(s.shards[0].last_error.find("injected read fault"), std::string::npos);
  const std::string json = PipelineStatusJson({s});
  EXPECT_NE(json.find("\"state\":\"read_failing\""), std::string::npos) << json;
  EXPECT_NE(json.find("injected read fault"), std::string::npos) << json;
  const std::string metrics = PipelineMetricsText({s});
  const std::string labels = "{pipeline=\"pipe\",shard=\"shardId-000000000000\"}";
  EXPECT_NE(metrics.find("tideline_pipeline_read_errors_total" + labels + " " +
                         std::to_string(s.shards[0].counters.read_errors)),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("tideline_pipeline_read_failing" + labels + " 1"), std::string::npos);

  faulty.fail_reads = false;
  ASSERT_TRUE(WaitCaughtUp(*p));
  s = p->GetStatus();
  EXPECT_EQ(s.shards[0].state, "reading");
  EXPECT_EQ(s.shards[0].last_error, "");
  EXPECT_GE(s.shards[0].counters.read_errors, 2u);  // a counter: it stays
  EXPECT_NE(PipelineMetricsText({s}).find("tideline_pipeline_read_failing" + labels + " 0"),
            std::string::npos);
  EXPECT_EQ(Delivered().size(), 10u);
}

TEST_F(PipelineTest, ReaderBehindTheTrimHorizonCountsExpiredRecordsAndCarriesOn) {
  ASSERT_TRUE(store_->CreateStream(StreamName("logs"), 1).ok());
  auto p = Start();
  Append(Numbered("ok-a", 50));  // offsets 1..50, delivered and checkpointed
  ASSERT_TRUE(WaitCaughtUp(*p));
  p->Stop();
  p.reset();
  Append(Numbered("ok-b", 30));  // 51..80, never read: the pipeline is down for a day
  store_.clock().AdvanceMs(int64_t{25} * 3600 * 1000);  // past the stream's 24 h retention
  Append(Numbered("ok-c", 20));                         // 81..100
  auto removed = store_->TrimExpired();
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  ASSERT_EQ(*removed, 80u);

  p = Start();  // resumes after its checkpoint (50), which is now below the trim horizon (81)
  ASSERT_TRUE(WaitCaughtUp(*p));
  auto delivered = Delivered();
  EXPECT_EQ(delivered.size(), 70u);
  for (const auto& [line, count] : delivered) {
    EXPECT_FALSE(line.starts_with("ok-b")) << line << " was trimmed, it cannot be delivered";
    EXPECT_EQ(count, 1) << line;
  }
  PipelineStatus s = p->GetStatus();
  ASSERT_EQ(s.shards.size(), 1u);
  EXPECT_EQ(s.shards[0].counters.records_expired, 30u);
  EXPECT_EQ(s.shards[0].counters.records_read, 20u);
  const std::string metrics = PipelineMetricsText({s});
  EXPECT_NE(metrics.find("tideline_pipeline_records_expired_total{pipeline=\"pipe\","
                         "shard=\"shardId-000000000000\"} 30"),
            std::string::npos)
      << metrics;
  EXPECT_NE(PipelineStatusJson({s}).find("\"recordsExpired\":30"), std::string::npos);

  // It carries on from the horizon: new records are delivered, nothing more counts as expired.
  Append(Numbered("ok-d", 10));
  ASSERT_TRUE(WaitCaughtUp(*p));
  EXPECT_EQ(Delivered().size(), 80u);
  s = p->GetStatus();
  EXPECT_EQ(s.shards[0].counters.records_expired, 30u);
  EXPECT_EQ(s.shards[0].checkpoint_offset, 110u);
}

TEST(PipelineStateTest, StatusJsonAndMetricsShowTheStateByItsName) {
  EXPECT_EQ(PipelineStateName(PipelineState::kStarting), "starting");
  EXPECT_EQ(PipelineStateName(PipelineState::kWaitingForStream), "waiting for stream");
  EXPECT_EQ(PipelineStateName(PipelineState::kRunning), "running");
  EXPECT_EQ(PipelineStateName(PipelineState::kRetrying), "retrying");
  EXPECT_EQ(PipelineStateName(PipelineState::kStalled), "stalled");
  EXPECT_EQ(PipelineStateName(PipelineState::kStopped), "stopped");
  PipelineStatus s;
  s.name = "pipe";
  s.state = PipelineState::kWaitingForStream;
  const std::string json = PipelineStatusJson({s});
  EXPECT_NE(json.find("\"state\":\"waiting for stream\""), std::string::npos) << json;
  s.state = PipelineState::kStalled;
  const std::string metrics = PipelineMetricsText({s});
  EXPECT_NE(metrics.find("tideline_pipeline_stalled{pipeline=\"pipe\"} 1"), std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("tideline_pipeline_retrying{pipeline=\"pipe\"} 0"), std::string::npos)
      << metrics;
}

}  // namespace
}  // namespace tideline::pipeline
