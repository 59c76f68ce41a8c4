#include "record_size_ceiling.h"

#include <algorithm>

namespace tideline::server {

namespace {

// JSON around the base64: member names, quotes and up to 500 partition keys of 256 characters
// escaped as \uXXXX (6 bytes each) are well under this.
constexpr size_t kJsonSlack = 1u << 20;

}  // namespace

void RecordSizeCeiling::Raise(uint32_t kib) {
  uint32_t current = kib_.load(std::memory_order_relaxed);
  while (current < kib && !kib_.compare_exchange_weak(current, kib, std::memory_order_relaxed)) {
  }
}

void RecordSizeCeiling::Recompute(const storage::Store& store) {
  uint32_t largest = storage::kDefaultMaxRecordSizeKiB;
  std::string after;
  constexpr size_t kPage = 1000;
  for (;;) {
    const std::vector<StreamName> names = store.ListStreams(after, kPage);
    for (const StreamName& name : names) {
      auto attributes = store.GetStreamAttributes(name);
      if (attributes.ok()) largest = std::max(largest, attributes->max_record_size_kib);
    }
    if (names.size() < kPage) break;
    after = names.back().get();
  }
  kib_.store(largest, std::memory_order_relaxed);
}

size_t PutRecordsBatchBytes(uint32_t max_record_kib) {
  return max_record_kib > storage::kDefaultMaxRecordSizeKiB ? size_t{10} << 20 : size_t{5} << 20;
}

size_t PutBodyLimit(size_t configured, uint32_t largest_record_kib, uint64_t inflight_bytes) {
  // While every stream keeps the default, the configured limit stands as the operator set it.
  if (largest_record_kib <= storage::kDefaultMaxRecordSizeKiB) return configured;
  const size_t data =
      std::max<size_t>(size_t{largest_record_kib} << 10, PutRecordsBatchBytes(largest_record_kib));
  const size_t needed = (data + 2) / 3 * 4 + kJsonSlack;
  return static_cast<size_t>(std::min<uint64_t>(std::max(configured, needed), inflight_bytes));
}

}  // namespace tideline::server
