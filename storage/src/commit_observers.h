// The commit observers of a store (Store::AddCommitObserver): both stores keep their list in
// one of these and call Notify wherever a WaitForRecords call would wake.
//
// Thread safety: every method may be called from any thread. Notify holds mu_ shared while the
// observers run, so they may run concurrently with each other; Add and Remove hold it
// exclusively, which is how Remove waits out a running observer.
#pragma once

#include <cstdint>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <utility>
#include <vector>

#include "storage/store.h"

namespace tideline::storage {

class CommitObservers {
 public:
  uint64_t Add(Store::CommitObserver observer) {
    std::unique_lock<std::shared_mutex> lock(mu_);
    const uint64_t id = next_id_++;
    observers_.emplace_back(id, std::move(observer));
    return id;
  }

  void Remove(uint64_t id) {
    std::unique_lock<std::shared_mutex> lock(mu_);
    std::erase_if(observers_, [id](const auto& entry) { return entry.first == id; });
  }

  // Calls every observer with `shards` (empty: look again, whatever the shard).
  void Notify(std::span<const ShardUid> shards) const {
    std::shared_lock<std::shared_mutex> lock(mu_);
    for (const auto& [id, observer] : observers_)
      observer(shards);
  }

 private:
  mutable std::shared_mutex mu_;
  std::vector<std::pair<uint64_t, Store::CommitObserver>> observers_;  // GUARDED_BY(mu_)
  uint64_t next_id_ = 1;                                               // GUARDED_BY(mu_)
};

}  // namespace tideline::storage
