// What a stream carries besides its shards and records: the settings the Kinesis API reads and
// writes (tags, capacity mode, encryption, enhanced monitoring, resource policies, registered
// consumers). The store keeps them durably with the stream: written with it at creation,
// deleted with it, and changed atomically (Store::UpdateStreamAttributes). What they mean, and
// AWS's rules and limits for them, is the API's business.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace tideline::storage {

enum class StreamMode { kProvisioned, kOnDemand };

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

  bool operator==(const StreamAttributes&) const = default;
};

}  // namespace tideline::storage
