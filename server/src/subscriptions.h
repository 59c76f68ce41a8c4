// SubscribeToShard (enhanced fan-out): the hub that owns every live subscription and pushes
// each shard's records to its subscribers as their group commits land.
//
// A subscription is one consumer reading one shard for SubscriptionOptions::duration (5
// minutes, as on Kinesis). Its response body is an event stream (BodyStream) that the HTTP
// session drives through a BodySink: an initial-response event, then SubscribeToShardEvents
// (records, ContinuationSequenceNumber, MillisBehindLatest; ChildShards in the last one when the
// shard is closed and read to its end), at least one every `heartbeat` while the shard has
// nothing new, and a modeled exception event when something ends it early.
//
// How the work is done:
//   - A small fixed pool of worker threads (SubscriptionOptions::threads, not one per
//     subscription) reads from the store and encodes events.
//   - Per subscription at most one event is with the sink (written, its `written` callback not
//     yet run) and one more prepared: the next batch is read while the previous event is being
//     written, and nothing more until the sink has taken it (backpressure from a slow client).
//   - Across subscriptions the encoded bytes held (prepared or with a sink) are bounded by
//     max_buffered_bytes: over it, workers start no new event until bytes are written (at most
//     one more event per worker may be in preparation).
//   - A subscription that has caught up parks until a commit observer (Store::
//     AddCommitObserver) names its shard, a reshard, deletion or wake names every shard, or its
//     heartbeat or end is due. Nothing polls.
//
// Rules (Kinesis's): one accepted SubscribeToShard per consumer and shard per second
// (SubscriptionOptions::min_call_interval; more is LimitExceeded), one subscription per consumer
// and shard. Another SubscribeToShard for the
// pair within TakeoverWindow() of a live subscription's start is refused (ResourceInUse); one
// later takes over, and the old subscription ends with a ResourceInUseException event. A
// subscription whose earlier one has already ended (expired, cancelled, ended by an error) is
// never refused. EndConsumer and EndStream end subscriptions with a ResourceNotFoundException
// event (deregistration, stream deletion); Stop ends all of them (their streams simply end).
//
// Thread safety: every public method may be called from any thread. Lock order: mu_ is the
// hub's one lock; sink calls are made with it held (BodySink's contract: they only post to the
// session and never call back inline), store reads never. The commit observer takes mu_ on the
// store's writer thread, so nothing here calls into the store's append or observer methods
// with mu_ held.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "api_types.h"
#include "common/prometheus.h"
#include "common/status.h"
#include "common/types.h"
#include "storage/store.h"
#include "subscription_events.h"

namespace tideline::server {

struct SubscriptionOptions {
  // How long a subscription delivers before its stream ends (server.subscription_duration_ms).
  // Default: 5 minutes (Kinesis)
  std::chrono::milliseconds duration{300'000};
  // While the shard has nothing new, an event (no records, MillisBehindLatest 0, the same
  // ContinuationSequenceNumber) goes out at least this often, so clients see the subscription
  // alive and their read timeouts never fire. Default: 5 s
  std::chrono::milliseconds heartbeat{5'000};
  // Worker threads reading and encoding for every subscription. Default: 2 (the target machine)
  int threads = 2;
  // Records (data + partition key bytes) in one event; an event always has at least one record
  // when any is readable, whatever its size. Default: 1 MiB
  size_t max_event_record_bytes = 1u << 20;
  // Records in one event. Default: 10000 (GetRecords' limit)
  size_t max_event_records = 10'000;
  // Encoded event bytes held at once across all subscriptions. Default: 64 MiB
  uint64_t max_buffered_bytes = 64u << 20;
  // Calls accepted per consumer and shard: at most one in this interval (Kinesis: one call per
  // second per consumer per shard); more is LimitExceeded. Never more than `duration`, so
  // tests with short subscriptions can renew. Default: 1 s
  std::chrono::milliseconds min_call_interval{1'000};
  // Monotonic ms for durations, heartbeats and the takeover window. Default: steady clock
  NowMsFn steady_ms;
  // Wall-clock ms for MillisBehindLatest. Default: system clock
  NowMsFn wall_ms;
};

// What SubscribeToShard asks for, resolved by its handler.
struct SubscriptionRequest {
  // With `shard`, who the subscription is: one live subscription per consumer ARN and shard.
  std::string consumer_arn;
  StreamName stream;     // the store's name
  std::string consumer;  // the consumer's name (EndConsumer)
  ShardId shard;
  ShardUid shard_uid{0};
  // The first offset to deliver (ResolvePosition of the StartingPosition).
  Offset start{1};
  EventEncoding encoding = EventEncoding::kJson;
  // The ResourceNotFoundException message for when the stream goes away under the subscription.
  std::string not_found_message;
};

// Totals for /metrics.
struct SubscriptionStats {
  uint64_t started = 0;  // subscriptions begun (their stream started)
  uint64_t active = 0;   // live now
  uint64_t events = 0;   // SubscribeToShardEvents handed to sinks
  uint64_t records = 0;  // records in them
  uint64_t bytes = 0;    // encoded bytes of those events
  uint64_t buffered_bytes = 0;
};

class SubscriptionHub {
 public:
  // `store` must outlive the hub, and the hub every BodyStream it returned (the server keeps
  // it until its I/O threads and sessions are gone). Starts the worker threads.
  SubscriptionHub(const storage::Store& store, SubscriptionOptions options);
  ~SubscriptionHub();
  SubscriptionHub(const SubscriptionHub&) = delete;
  SubscriptionHub& operator=(const SubscriptionHub&) = delete;

  // Registers a subscription and returns its event stream (ApiResponse::stream); it delivers
  // once the session calls Start. ResourceInUse when the consumer has a live subscription to
  // the shard that began less than TakeoverWindow() ago; Unavailable once stopped.
  Result<std::shared_ptr<BodyStream>> Subscribe(SubscriptionRequest request);

  // Ends every subscription of consumer `consumer` of `stream` (the store's name) with a
  // ResourceNotFoundException event carrying `message`.
  void EndConsumer(const StreamName& stream, std::string_view consumer, std::string_view message);
  // Ends every subscription to `stream` the same way.
  void EndStream(const StreamName& stream, std::string_view message);

  // Ends every subscription (their streams end without an exception), refuses new ones and
  // joins the workers. Idempotent. Sessions may still call Start and Cancel afterwards.
  void Stop();

  // min(5 s, duration): a second subscription within it is refused, so that a short duration
  // (tests) still lets a client renew at the end of each subscription.
  std::chrono::milliseconds TakeoverWindow() const;

  SubscriptionStats Stats() const;
  void Render(PrometheusWriter& w) const;

  // Looks at the clock again now (timers due). For tests that move an injected clock.
  void CheckTimers();

 private:
  class Subscription;
  using SubscriptionPtr = std::shared_ptr<Subscription>;

  // Called by Subscription (BodyStream) on a session's strand.
  void OnStart(const SubscriptionPtr& sub, std::shared_ptr<BodySink> sink);
  void OnCancel(const SubscriptionPtr& sub);
  // The sink took an event of `bytes` bytes.
  void OnWritten(const SubscriptionPtr& sub, uint64_t bytes);
  void OnCommit(std::span<const ShardUid> shards);

  void WorkerLoop();
  // Reads and encodes the next event of `sub` (mu_ not held) and hands it on.
  void Prepare(std::unique_lock<std::mutex>& lock, const SubscriptionPtr& sub);
  // The rest are called with mu_ held.
  // Hands `bytes` to the sink as one event, charged until its `written` runs.
  void WriteEvent(const SubscriptionPtr& sub, std::string bytes, size_t records, bool counted);
  // Hands `event` (its bytes charged) to the sink, then ends the subscription at the shard's
  // end, or queues its next read, or parks it at the tip.
  void Deliver(const SubscriptionPtr& sub, ShardEvent event);
  // Queues `sub` for a worker (unless it is queued, being prepared or has ended).
  void MakeReady(const SubscriptionPtr& sub);
  // Parks `sub` until its shard changes, its heartbeat or its end.
  void Park(const SubscriptionPtr& sub);
  void SetTimer(const SubscriptionPtr& sub, int64_t at_ms);
  void FireTimers(int64_t now_ms);
  // Ends `sub`: an exception event first when `exception_type` is set, then the end of its
  // body; forgets it. `cancelled`: the session is gone, so nothing is written.
  void End(const SubscriptionPtr& sub, std::string_view exception_type, std::string_view message,
           bool cancelled = false);
  void Release(uint64_t bytes);
  int64_t SteadyMs() const { return options_.steady_ms(); }

  const storage::Store& store_;
  const SubscriptionOptions options_;
  uint64_t observer_id_ = 0;  // set by the constructor, removed by Stop

  mutable std::mutex mu_;
  std::condition_variable work_cv_;
  bool stopping_ = false;  // GUARDED_BY(mu_)
  uint64_t next_id_ = 1;   // GUARDED_BY(mu_)
  // Every live subscription by id, and by consumer ARN + shard the one that holds the pair.
  std::unordered_map<uint64_t, SubscriptionPtr> live_;  // GUARDED_BY(mu_)
  std::map<std::string, uint64_t> by_key_;              // GUARDED_BY(mu_)
  // When each consumer and shard last had a call accepted (steady ms), for min_call_interval;
  // entries older than the interval are swept when the map outgrows the live subscriptions.
  std::unordered_map<std::string, int64_t> last_call_;  // GUARDED_BY(mu_)
  // Started subscriptions by shard uid, for the commit observer.
  std::unordered_map<uint64_t, std::vector<SubscriptionPtr>> by_shard_;  // GUARDED_BY(mu_)
  std::deque<SubscriptionPtr> ready_;                                    // GUARDED_BY(mu_)
  // Ready, but the buffered-bytes budget is spent: queued again when bytes are written.
  std::deque<SubscriptionPtr> budget_waiters_;  // GUARDED_BY(mu_)
  // (due ms, subscription id): each live subscription's next end or heartbeat.
  std::set<std::pair<int64_t, uint64_t>> timers_;  // GUARDED_BY(mu_)
  uint64_t buffered_bytes_ = 0;                    // GUARDED_BY(mu_)
  std::vector<std::thread> workers_;

  std::atomic<uint64_t> started_{0}, active_{0}, events_{0}, records_{0}, bytes_{0};
};

}  // namespace tideline::server
