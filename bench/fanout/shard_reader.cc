#include "shard_reader.h"

#include <chrono>
#include <thread>

#include <fmt/format.h>

#include "json_scan.h"

namespace tideline::fanout {

ShardReader::ShardReader(Endpoint endpoint, std::string consumer_arn, std::string shard_id)
    : endpoint_(endpoint),
      consumer_arn_(std::move(consumer_arn)),
      shard_id_(std::move(shard_id)),
      subscription_(std::move(endpoint)) {}

void ShardReader::Stop() {
  stopped_.store(true);
  subscription_.Abort();
}

ShardReaderStats ShardReader::Run(StartingPosition start, const Subscription::OnOpen& on_open,
                                  const Subscription::OnEvent& on_event) {
  ShardReaderStats stats;
  StartingPosition position = std::move(start);
  int failures = 0;
  // The ContinuationSequenceNumber of the last event: where a renewal resumes.
  std::string continuation;
  const Subscription::OnOpen opened = [&] {
    ++stats.subscriptions;
    if (on_open) on_open();
  };
  const Subscription::OnEvent read = [&](std::string_view payload) {
    ++stats.events;
    if (auto next = loadgen::ScanString(payload, "ContinuationSequenceNumber")) {
      continuation = std::move(*next);
    }
    return on_event(payload);
  };
  while (!stopped_.load()) {
    SubscriptionResult result =
        subscription_.Run(SubscribeBody(consumer_arn_, shard_id_, position), opened, read);
    stats.body_bytes += result.body_bytes;
    if (!continuation.empty()) position = {"AFTER_SEQUENCE_NUMBER", continuation};
    if (stopped_.load() || result.end == SubscriptionResult::End::kStopped) break;
    if (result.end == SubscriptionResult::End::kEndedByServer) {
      ++stats.renewals;
      failures = 0;
      continue;
    }
    // Kinesis refuses a subscription while the consumer's previous one to the shard is still
    // open (ResourceInUseException) and more than one call a second (LimitExceededException):
    // consumers retry after a second, as the KCL does.
    // A transport failure or InternalFailure may pass on the next try too.
    const std::string& type = result.error_type;
    const bool retryable = (result.end == SubscriptionResult::End::kFailed && type.empty()) ||
                           type == "ResourceInUseException" || type == "LimitExceededException" ||
                           type == "InternalFailure";
    if (!retryable || ++failures >= kMaxConsecutiveFailures) {
      stats.error = result.error;
      break;
    }
    ++stats.retries;
    fmt::print(stderr, "{} {}: {}; subscribing again in 1 s\n", consumer_arn_, shard_id_,
               result.error);
    // The retry interval Kinesis asks of a consumer; not a synchronisation.
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  return stats;
}

}  // namespace tideline::fanout
