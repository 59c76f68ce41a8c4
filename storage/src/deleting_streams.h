// Streams whose deletion has completed but which Kinesis would still show as DELETING
// (StoreOptions::status_delay): what DescribeStream and ListStreams report of them, and the
// names CreateStream may not take yet. Held in memory only: after a restart a deleted stream is
// gone, as its durable state says. Both stores use it.
//
// Not thread-safe: the owning store guards it with the mutex that guards its stream map.
#pragma once

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/types.h"
#include "storage/store.h"

namespace tideline::storage {

class DeletingStreams {
 public:
  struct Entry {
    uint64_t uid = 0;
    int64_t created_ms = 0;
    int retention_hours = kMinRetentionHours;
    int64_t until_ms = 0;  // MonotonicMs at which the stream is gone
  };

  // Drops the entries that are gone at `now_ms` (MonotonicMs), then adds `entry` unless it is
  // already gone.
  void Add(const std::string& name, const Entry& entry, int64_t now_ms) {
    Purge(now_ms);
    if (entry.until_ms > now_ms) entries_[name] = entry;
  }

  void Purge(int64_t now_ms) {
    std::erase_if(entries_, [now_ms](const auto& e) { return e.second.until_ms <= now_ms; });
  }

  // The entry of a stream still DELETING at `now_ms`, or nullptr.
  const Entry* Find(const std::string& name, int64_t now_ms) const {
    auto it = entries_.find(name);
    return it != entries_.end() && it->second.until_ms > now_ms ? &it->second : nullptr;
  }

  // Appends to `out` up to `limit` names still DELETING at `now_ms`, after `exclusive_start`
  // (empty: from the first), in order.
  void AppendNames(std::string_view exclusive_start, size_t limit, int64_t now_ms,
                   std::vector<std::string>& out) const {
    auto it = exclusive_start.empty() ? entries_.begin()
                                      : entries_.upper_bound(std::string(exclusive_start));
    for (size_t n = 0; it != entries_.end() && n < limit; ++it) {
      if (it->second.until_ms <= now_ms) continue;
      out.push_back(it->first);
      ++n;
    }
  }

  // How DescribeStream shows a DELETING stream: its identity, no shards.
  static StreamInfo Describe(const std::string& name, uint64_t uid, int64_t created_ms,
                             int retention_hours) {
    StreamInfo info;
    info.name = StreamName(name);
    info.uid = uid;
    info.created_ms = created_ms;
    info.retention_hours = retention_hours;
    info.status = StreamStatus::kDeleting;
    return info;
  }

  // Merges two ordered name lists (live streams and DELETING ones) into at most `limit` names.
  static std::vector<StreamName> Merge(std::vector<std::string> a,
                                       const std::vector<std::string>& b, size_t limit) {
    std::vector<std::string> all;
    all.reserve(a.size() + b.size());
    std::merge(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(all));
    all.erase(std::unique(all.begin(), all.end()), all.end());
    if (all.size() > limit) all.resize(limit);
    std::vector<StreamName> out;
    out.reserve(all.size());
    for (std::string& n : all)
      out.emplace_back(std::move(n));
    return out;
  }

 private:
  std::map<std::string, Entry> entries_;
};

}  // namespace tideline::storage
