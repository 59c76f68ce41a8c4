// The clock retention trusts (storage/FORMAT.md, "Clocks"). Private to storage; shared by the
// RocksDB and the in-memory store so that both expire records alike.
#pragma once

#include <spdlog/spdlog.h>

#include <atomic>
#include <cstdint>
#include <memory>

#include "common/clock.h"

namespace tideline::storage {

// "Now" for retention: the wall clock, bounded by the monotonic time since the store opened, so
// that a wall clock stepped forward never expires records early.
//
// Thread safety: NowMs may be called from any thread (the trimmer and TrimExpired callers).
class RetentionClock {
 public:
  // How far the retention clock may run ahead of the monotonic time since Open, and how far the
  // wall clock may stray from it before a warning. Retention is at least 24 hours, so at most
  // this much of a record's retention can be lost to a forward step of the wall clock; NTP's
  // slewing and small steps stay well inside it.
  static constexpr int64_t kStepToleranceMs = 5 * 60 * 1000;

  // Anchors both clocks now: construct it when the store opens. `clock` must outlive this.
  RetentionClock(const Clock& clock, std::shared_ptr<spdlog::logger> log);

  // min(wall, wall at open + monotonic time since open + tolerance). Logs each new step once
  // (not every trim pass), and once when the clocks agree again.
  int64_t NowMs();
  int64_t wall_at_open_ms() const { return wall_at_open_ms_; }

 private:
  const Clock& clock_;
  const std::shared_ptr<spdlog::logger> log_;
  const int64_t wall_at_open_ms_;
  const int64_t monotonic_at_open_ms_;
  // Wall minus bounded clock when a skew was last logged (0: none).
  std::atomic<int64_t> logged_skew_ms_{0};
};

}  // namespace tideline::storage
