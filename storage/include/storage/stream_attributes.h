// What a stream carries besides its shards and records: the settings the Kinesis API reads and
// writes (tags, capacity mode, encryption, enhanced monitoring, resource policies, registered
// consumers). The store keeps them durably with the stream: written with it at creation,
// deleted with it, and changed atomically (Store::UpdateStreamAttributes). What they mean, and
// AWS's rules and limits for them, is the API's business.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace tideline::storage {

enum class StreamMode { kProvisioned, kOnDemand };

// Kinesis's default maximum record size (MaxRecordSizeInKiB); UpdateMaxRecordSize may raise it.
inline constexpr uint32_t kDefaultMaxRecordSizeKiB = 1024;

struct StreamConsumer {
  std::string name;
  int64_t created_ms = 0;
  // When deregistration started; 0 while the consumer is registered.
  int64_t deleting_since_ms = 0;
  // Resource policy document attached to the consumer's ARN; empty when none.
  std::string policy;
  std::map<std::string, std::string> tags;

  bool operator==(const StreamConsumer&) const = default;
};

struct StreamAttributes {
  std::map<std::string, std::string> tags;  // key -> value, ordered by key
  StreamMode mode = StreamMode::kProvisioned;
  int64_t mode_changed_ms = 0;  // 0: never changed since creation
  std::string encryption_type = "NONE";
  std::string kms_key_id;                        // empty when encryption_type is NONE
  std::vector<std::string> shard_level_metrics;  // enhanced monitoring, sorted, no duplicates
  std::string policy;                            // resource policy of the stream; empty when none
  std::vector<StreamConsumer> consumers;         // in registration order
  // Kinesis's StreamId, [a-z0-9]{20}-[a-z0-9]{3}: the store makes it with the stream (when the
  // creator leaves it empty) and it never changes. Streams made before it existed get one
  // derived from their name and uid, the same at every open.
  std::string stream_id;
  // Largest record (data + partition key) the stream takes, KiB.
  uint32_t max_record_size_kib = kDefaultMaxRecordSizeKiB;
  // Warm throughput asked for (UpdateStreamWarmThroughput), MiB/s; nullopt when never set.
  std::optional<uint32_t> warm_throughput_mibps;

  bool operator==(const StreamAttributes&) const = default;
};

// Account-wide settings (Kinesis's DescribeAccountSettings), kept durably by the store. Only
// the facts are stored; what status they mean at a given time is the API's business.
struct AccountSettings {
  // MinimumThroughputBillingCommitment: on since started_ms (0: never enabled).
  bool commitment_enabled = false;
  int64_t commitment_started_ms = 0;
  // The commitment may not end before this.
  int64_t commitment_earliest_end_ms = 0;
  // A disable was asked for before earliest_end: it takes effect then.
  bool commitment_disable_pending = false;
  // When the last commitment ended; 0 when none has.
  int64_t commitment_ended_ms = 0;

  bool operator==(const AccountSettings&) const = default;
};

}  // namespace tideline::storage
