// The largest record any stream takes (Kinesis's MaxRecordSizeInKiB, 1024..10240 KiB), which the
// PutRecord(s) body limit follows: a stream raised to 10 MiB records needs ~14 MiB bodies, while
// a store whose streams all keep the 1 MiB default keeps the configured limit. Memory stays
// bounded by server.max_inflight_bytes whatever the limit: every body is reserved from it
// before it is read, and the limit never exceeds it.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "storage/store.h"

namespace tideline::server {

class RecordSizeCeiling {
 public:
  // Largest MaxRecordSizeInKiB of any stream (at least the 1024 default). Thread-safe.
  uint32_t kib() const { return kib_.load(std::memory_order_relaxed); }
  // After a stream's limit was raised to `kib`.
  void Raise(uint32_t kib);
  // Reads every stream's limit (at start-up, and after a limit was lowered).
  void Recompute(const storage::Store& store);

 private:
  std::atomic<uint32_t> kib_{storage::kDefaultMaxRecordSizeKiB};
};

// Records (data + partition keys) one PutRecords may carry when its stream takes records of up
// to `max_record_kib`: 5 MiB at the 1 MiB default, 10 MiB once larger records are allowed.
size_t PutRecordsBatchBytes(uint32_t max_record_kib);

// Body limit of PutRecord(s): `configured` (server.max_body_bytes); once some stream takes
// records above 1 MiB, raised to what a full batch of its records needs in base64 and JSON, but
// never above `inflight_bytes`.
size_t PutBodyLimit(size_t configured, uint32_t largest_record_kib, uint64_t inflight_bytes);

}  // namespace tideline::server
