// Reads one shard through SubscribeToShard as an enhanced fan-out consumer does: when the
// server ends a subscription (its time is up), subscribes again after the last
// ContinuationSequenceNumber, so the reader sees every record once across renewals.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>

#include "subscription.h"

namespace tideline::fanout {

struct ShardReaderStats {
  uint64_t subscriptions = 0;  // SubscribeToShard calls answered 200
  uint64_t renewals = 0;       // subscriptions the server ended, followed by a new one
  uint64_t retries = 0;        // refusals (ResourceInUse, LimitExceeded) and failures retried
  uint64_t events = 0;         // SubscribeToShardEvent messages
  uint64_t body_bytes = 0;     // event-stream bytes received
  // Set when the reader gave up: a refusal that a retry cannot fix, or too many failures.
  std::string error;
};

class ShardReader {
 public:
  // Consecutive failed subscriptions after which the reader gives up.
  static constexpr int kMaxConsecutiveFailures = 5;

  ShardReader(Endpoint endpoint, std::string consumer_arn, std::string shard_id);

  // Subscribes from `start` and reads until `on_event` returns false, Stop() is called, or the
  // reader gives up (ShardReaderStats::error). `on_open` runs after each subscription is
  // accepted.
  [[nodiscard]] ShardReaderStats Run(StartingPosition start, const Subscription::OnOpen& on_open,
                                     const Subscription::OnEvent& on_event);

  // Ends Run from any thread: the current subscription's connection is shut down.
  void Stop();

 private:
  Endpoint endpoint_;
  std::string consumer_arn_;
  std::string shard_id_;
  Subscription subscription_;
  std::atomic<bool> stopped_{false};
};

}  // namespace tideline::fanout
