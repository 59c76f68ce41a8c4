#include "common/clock.h"

#include <time.h>

#include <chrono>

namespace tideline {
namespace {

class SystemClock final : public Clock {
 public:
  int64_t NowMs() const override { return WallClockMs(); }
  int64_t MonotonicMs() const override { return BootClockMs(); }
};

}  // namespace

int64_t WallClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t BootClockMs() {
  struct timespec ts {};
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1'000'000;
}

const Clock& Clock::System() {
  static const SystemClock clock;
  return clock;
}

}  // namespace tideline
