// Time as tideline reads it. Code that must be testable against a moved clock takes a
// `const Clock&` (Clock::System() in production); the free functions are for code that only
// stamps or measures.
#pragma once

#include <cstdint>

namespace tideline {

// Milliseconds since the Unix epoch on the wall clock (system_clock): arrival times, checkpoint
// stamps, ARN creation times. May jump when the clock is stepped.
int64_t WallClockMs();

// Milliseconds on CLOCK_BOOTTIME (any origin): never stepped by settimeofday or NTP, and unlike
// steady_clock (CLOCK_MONOTONIC) it keeps counting while the machine or VM is suspended, so a
// wall clock that jumps forward on resume is not mistaken for a clock step.
int64_t BootClockMs();

class Clock {
 public:
  virtual ~Clock() = default;
  // WallClockMs() in production.
  virtual int64_t NowMs() const = 0;
  // BootClockMs() in production.
  virtual int64_t MonotonicMs() const = 0;
  // The real clocks; lives for the whole program.
  static const Clock& System();
};

}  // namespace tideline
