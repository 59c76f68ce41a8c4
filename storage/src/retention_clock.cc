#include "retention_clock.h"

#include <algorithm>
#include <cstdlib>

namespace tideline::storage {

RetentionClock::RetentionClock(const Clock& clock, std::shared_ptr<spdlog::logger> log)
    : clock_(clock),
      log_(std::move(log)),
      wall_at_open_ms_(clock.NowMs()),
      monotonic_at_open_ms_(clock.MonotonicMs()) {}

int64_t RetentionClock::NowMs() {
  const int64_t wall = clock_.NowMs();
  const int64_t bound = wall_at_open_ms_ + (clock_.MonotonicMs() - monotonic_at_open_ms_);
  const int64_t skew = wall - bound;
  const int64_t logged = logged_skew_ms_.load(std::memory_order_relaxed);
  if (std::llabs(skew) > kStepToleranceMs) {
    if (std::llabs(skew - logged) > kStepToleranceMs) {
      logged_skew_ms_.store(skew, std::memory_order_relaxed);
      log_->warn(
          "the wall clock is {} s {} the monotonic time since the store opened (a clock "
          "step?); retention counts from the earlier of the two until the store is reopened, "
          "so no record expires early",
          std::llabs(skew) / 1000, skew > 0 ? "ahead of" : "behind");
    }
  } else if (logged != 0) {
    logged_skew_ms_.store(0, std::memory_order_relaxed);
    log_->info("the wall clock agrees with the monotonic time since open again");
  }
  return std::min(wall, bound + kStepToleranceMs);
}

}  // namespace tideline::storage
