#include "cli/put_batcher.h"

#include <cstdint>
#include <cstdio>

#include "cli_util.h"
#include "common/base64.h"

namespace tideline::cli {

std::string PartitionKeyForLine(std::string_view line) {
  uint64_t h = 14695981039346656037ull;  // FNV-1a 64
  for (char c : line) {
    h ^= static_cast<uint8_t>(c);
    h *= 1099511628211ull;
  }
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

bool PutBatcher::Fits(const PendingRecord& record) const {
  return records_.size() < kMaxRecordsPerPut && bytes_ + record.size() <= kMaxBytesPerPut;
}

void PutBatcher::Add(PendingRecord record) {
  bytes_ += record.size();
  records_.push_back(std::move(record));
}

std::vector<PendingRecord> PutBatcher::Take() {
  bytes_ = 0;
  return std::exchange(records_, {});
}

std::string BuildPutRecordsRequest(std::string_view stream,
                                   const std::vector<PendingRecord>& records) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("StreamName");
  WriteString(w, stream);
  w.Key("Records");
  w.StartArray();
  for (const auto& r : records) {
    w.StartObject();
    w.Key("Data");
    WriteString(w, Base64Encode(r.data));
    w.Key("PartitionKey");
    WriteString(w, r.partition_key);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

}  // namespace tideline::cli
