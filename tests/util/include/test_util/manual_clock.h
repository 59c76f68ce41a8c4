// A Clock that moves only when a test moves it. Thread-safe: the store's threads read it while
// the test sets it.
#pragma once

#include <atomic>
#include <cstdint>

#include "common/clock.h"

namespace tideline::testing {

class ManualClock final : public Clock {
 public:
  // An arbitrary November 2023 wall time and boot-clock reading, far from 0 so that subtracting
  // a retention never goes negative.
  static constexpr int64_t kDefaultWallMs = 1'700'000'000'000;
  static constexpr int64_t kDefaultMonotonicMs = 1'000'000;

  explicit ManualClock(int64_t wall_ms = kDefaultWallMs, int64_t monotonic_ms = kDefaultMonotonicMs)
      : wall_ms_(wall_ms), monotonic_ms_(monotonic_ms) {}

  int64_t NowMs() const override { return wall_ms_.load(); }
  int64_t MonotonicMs() const override { return monotonic_ms_.load(); }

  void SetNowMs(int64_t ms) { wall_ms_ = ms; }
  void SetMonotonicMs(int64_t ms) { monotonic_ms_ = ms; }
  // Moves the wall clock alone, as a clock step (settimeofday, NTP) does; negative is back.
  void StepWallMs(int64_t ms) { wall_ms_ += ms; }
  // Moves the monotonic clock alone (time passed while the wall clock was held or stepped).
  void AdvanceMonotonicMs(int64_t ms) { monotonic_ms_ += ms; }
  // Moves both clocks together, as time passing does.
  void AdvanceMs(int64_t ms) {
    wall_ms_ += ms;
    monotonic_ms_ += ms;
  }

 private:
  std::atomic<int64_t> wall_ms_;
  std::atomic<int64_t> monotonic_ms_;
};

}  // namespace tideline::testing
