// The free-space guard of the write path (StoreOptions::min_free_bytes). Private to storage.
#pragma once

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>

#include "common/status.h"

namespace tideline::storage {

// Answers "may an append be written now?" from a cached statvfs reading of the data directory's
// file system. The reading is refreshed when it is older than kRefreshMs, or sooner once
// min_free_bytes / 8 bytes were committed since it was taken, so at ingest rates of a few
// hundred MB/s the space used between two readings stays well inside the reserve.
//
// Thread safety: every method may be called from any thread. Check() costs a clock read and a
// few atomic loads while the reading is fresh; one caller at a time refreshes it (try_lock on
// refresh_mu_; the others go on with the previous reading), so no caller ever waits for
// statvfs and none is made per record.
class DiskSpaceGuard {
 public:
  static constexpr int64_t kRefreshMs = 100;

  struct Options {
    std::filesystem::path dir;
    uint64_t min_free_bytes = 0;            // 0: the guard always answers OK
    std::function<int64_t()> monotonic_ms;  // required
    std::function<uint64_t()> free_bytes;   // empty: statvfs(dir)
  };

  DiskSpaceGuard(Options options, std::shared_ptr<spdlog::logger> log);

  // OK, or Unavailable("Insufficient disk space: ...") while the last reading is below the
  // minimum. A failed statvfs is logged and lets appends through: RocksDB's own error (sticky)
  // is then the backstop.
  Status Check();
  // The writer reports the bytes of each committed batch.
  void Committed(uint64_t bytes) {
    written_since_read_.fetch_add(bytes, std::memory_order_relaxed);
  }

  uint64_t free_bytes() const { return free_bytes_.load(std::memory_order_relaxed); }
  bool low() const { return low_.load(std::memory_order_relaxed); }

 private:
  // Takes a reading and logs transitions. Called with refresh_mu_ held.
  void Refresh(int64_t now_ms);
  Status Refusal() const;

  const Options options_;
  // min_free_bytes / 8, at least 4 KiB: committed bytes after which the reading is stale.
  const uint64_t reread_after_bytes_ = std::max<uint64_t>(options_.min_free_bytes / 8, 4096);
  const std::shared_ptr<spdlog::logger> log_;
  std::mutex refresh_mu_;     // held by the one thread taking a reading; guards read_failed_
  bool read_failed_ = false;  // GUARDED_BY(refresh_mu_): the last statvfs failed (log once)
  std::atomic<int64_t> next_read_ms_{0};  // monotonic ms after which the reading is stale
  std::atomic<uint64_t> written_since_read_{0};
  std::atomic<uint64_t> free_bytes_{0};
  std::atomic<bool> low_{false};
};

}  // namespace tideline::storage
