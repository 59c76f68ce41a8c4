// Kinesis operations as plain functions from a request body to a response, testable without
// sockets. Every handler turns any bad input into a Kinesis-shaped error response; none throws.
//
// Concurrency: handlers may run concurrently on any threads; they share only the Store and the
// ThroughputLimiter (both thread-safe) and read-only context.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "api_types.h"
#include "common/aws_account.h"
#include "record_size_ceiling.h"
#include "storage/store.h"

namespace tideline::server {

class ThroughputLimiter;
class SubscriptionHub;

struct HandlerContext {
  storage::Store* store = nullptr;
  // Used in stream ARNs and error messages. account.region is the default region (server.region).
  AwsAccount account;
  // The region of the request being handled, from its SigV4 credential scope (Api sets it per
  // request, from the router); empty: the default region. A region's streams are its own
  // (common/regional_stream.h), and its ARNs carry it.
  std::string region;
  // Age after which a shard iterator is refused with ExpiredIteratorException.
  std::chrono::milliseconds iterator_ttl{5 * 60 * 1000};
  // Clock for iterator issue/expiry and MillisBehindLatest.
  NowMsFn now_ms;
  // Consumers are CREATING (DELETING) this long after they are registered (deregistered).
  std::chrono::milliseconds status_delay{0};
  // The store-wide shard limit DescribeLimits reports.
  uint64_t shard_limit = 0;
  // Kept up to date by the operations that set a stream's MaxRecordSizeInKiB, for the HTTP
  // session's body limit; may be null (tests without sessions).
  RecordSizeCeiling* record_ceiling = nullptr;

  // The request's region: `region`, else the default region.
  std::string_view Region() const { return region.empty() ? account.region : region; }
  // Per-shard throughput limits (throughput_limiter.h); null when they are off, so the only
  // cost of the feature then is one branch per PutRecord(s), GetRecords and GetShardIterator.
  ThroughputLimiter* limiter = nullptr;
  // SubscribeToShard's subscriptions (subscriptions.h); DeregisterStreamConsumer and
  // DeleteStream end theirs. Null: SubscribeToShard answers ServiceUnavailable (tests without
  // a hub).
  SubscriptionHub* subscriptions = nullptr;
  // The request came in the CBOR protocol; SubscribeToShard then encodes its events in CBOR.
  bool cbor = false;
};

// Streams (handlers_streams.cc).
ApiResponse HandleCreateStream(const HandlerContext& ctx, std::string_view body);
ApiResponse HandleDeleteStream(const HandlerContext& ctx, std::string_view body);
ApiResponse HandleListStreams(const HandlerContext& ctx, std::string_view body);
ApiResponse HandleDescribeStreamSummary(const HandlerContext& ctx, std::string_view body);
ApiResponse HandleIncreaseStreamRetentionPeriod(const HandlerContext& ctx, std::string_view body);
ApiResponse HandleDecreaseStreamRetentionPeriod(const HandlerContext& ctx, std::string_view body);

// Shards (handlers_shards.cc).
ApiResponse HandleDescribeStream(const HandlerContext& ctx, std::string_view body);
ApiResponse HandleListShards(const HandlerContext& ctx, std::string_view body);

// Resharding (handlers_reshard.cc).
ApiResponse HandleSplitShard(const HandlerContext& ctx, std::string_view body);
ApiResponse HandleMergeShards(const HandlerContext& ctx, std::string_view body);
ApiResponse HandleUpdateShardCount(const HandlerContext& ctx, std::string_view body);

// Tags, capacity mode, encryption, monitoring, resource policies, consumers, limits
// (handlers_attributes.cc).
ApiResponse HandleAddTagsToStream(const HandlerContext& ctx, std::string_view body);
ApiResponse HandleRemoveTagsFromStream(const HandlerContext& ctx, std::string_view body);
ApiResponse HandleListTagsForStream(const HandlerContext& ctx, std::string_view body);
ApiResponse HandleTagResource(const HandlerContext& ctx, std::string_view body);
ApiResponse HandleUntagResource(const HandlerContext& ctx, std::string_view body);
ApiResponse HandleListTagsForResource(const HandlerContext& ctx, std::string_view body);
ApiResponse HandleDescribeLimits(const HandlerContext& ctx, std::string_view body);
ApiResponse HandleUpdateStreamMode(const HandlerContext& ctx, std::string_view body);
ApiResponse HandleStartStreamEncryption(const HandlerContext& ctx, std::string_view body);
ApiResponse HandleStopStreamEncryption(const HandlerContext& ctx, std::string_view body);
ApiResponse HandleEnableEnhancedMonitoring(const HandlerContext& ctx, std::string_view body);
ApiResponse HandleDisableEnhancedMonitoring(const HandlerContext& ctx, std::string_view body);
ApiResponse HandlePutResourcePolicy(const HandlerContext& ctx, std::string_view body);
ApiResponse HandleGetResourcePolicy(const HandlerContext& ctx, std::string_view body);
ApiResponse HandleDeleteResourcePolicy(const HandlerContext& ctx, std::string_view body);
ApiResponse HandleRegisterStreamConsumer(const HandlerContext& ctx, std::string_view body);
ApiResponse HandleDeregisterStreamConsumer(const HandlerContext& ctx, std::string_view body);
ApiResponse HandleDescribeStreamConsumer(const HandlerContext& ctx, std::string_view body);
ApiResponse HandleListStreamConsumers(const HandlerContext& ctx, std::string_view body);

// Account settings, maximum record size, warm throughput (handlers_settings.cc).
ApiResponse HandleDescribeAccountSettings(const HandlerContext& ctx, std::string_view body);
ApiResponse HandleUpdateAccountSettings(const HandlerContext& ctx, std::string_view body);
ApiResponse HandleUpdateMaxRecordSize(const HandlerContext& ctx, std::string_view body);
ApiResponse HandleUpdateStreamWarmThroughput(const HandlerContext& ctx, std::string_view body);

// Enhanced fan-out (handlers_subscribe.cc). Checks the request, the consumer, the shard and
// the starting position, registers the subscription with ctx.subscriptions and answers with
// its event stream (ApiResponse::stream); errors found before that are ordinary responses.
ApiResponse HandleSubscribeToShard(const HandlerContext& ctx, std::string_view body);

// Reads (handlers_get.cc). May block on RocksDB reads: run them off the I/O threads.
ApiResponse HandleGetShardIterator(const HandlerContext& ctx, std::string_view body);
ApiResponse HandleGetRecords(const HandlerContext& ctx, std::string_view body);

// Writes (handlers_put.cc). `ctx` is read only during the call. Parse and validate inline, then
// Store::AppendAsync; `done` runs exactly once: inline for request errors, otherwise after the
// records are durable, through `respond_on` when set (the response is built there, so the store's
// writer thread only hands off), else on the writer thread. `body` is parsed in place and kept
// alive until `done` has run.
void HandlePutRecord(const HandlerContext& ctx, std::shared_ptr<std::string> body,
                     ResponseCallback done, const RespondOn& respond_on = {});
void HandlePutRecords(const HandlerContext& ctx, std::shared_ptr<std::string> body,
                      ResponseCallback done, const RespondOn& respond_on = {});

}  // namespace tideline::server
