// Packs lines into PutRecords requests within Kinesis's limits, and routes partition keys.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace tideline::cli {

inline constexpr size_t kMaxRecordsPerPut = 500;
inline constexpr size_t kMaxBytesPerPut = 5u << 20;  // data + partition keys
inline constexpr size_t kMaxRecordBytes = 1u << 20;  // data + partition key of one record
inline constexpr size_t kMaxPartitionKeyChars = 256;

struct PendingRecord {
  std::string data;
  std::string partition_key;
  size_t size() const { return data.size() + partition_key.size(); }
};

// A partition key derived from the line (16 hex digits of its FNV-1a 64-bit hash), so equal
// lines land on the same shard and different lines spread over all shards.
std::string PartitionKeyForLine(std::string_view line);

// Accumulates records until the next one would pass 500 records or 5 MiB.
// Contract: every batch Take() returns is non-empty (unless nothing was added) and within both
// limits, provided each record is within kMaxRecordBytes.
class PutBatcher {
 public:
  // True when `record` fits in the current batch; false means Take() the batch first.
  bool Fits(const PendingRecord& record) const;
  void Add(PendingRecord record);
  bool empty() const { return records_.empty(); }
  size_t bytes() const { return bytes_; }
  std::vector<PendingRecord> Take();

 private:
  std::vector<PendingRecord> records_;
  size_t bytes_ = 0;
};

// The PutRecords request body for `records`.
std::string BuildPutRecordsRequest(std::string_view stream,
                                   const std::vector<PendingRecord>& records);

}  // namespace tideline::cli
