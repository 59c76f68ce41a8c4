// One factor for every wall-clock budget in the tests: TIDELINE_TEST_TIME_FACTOR (default 1) is
// multiplied into the deadlines, timeouts and lifetimes a test waits for, so that the suite holds
// under sanitizers, `ctest -j2` and slow machines without loosening the defaults for everyone.
// tests/integration/harness.py reads the same variable for the Python tests.
#pragma once

#include <chrono>

namespace tideline::testing {

// TIDELINE_TEST_TIME_FACTOR as a number >= 1 (unset, unparseable or below 1: 1). Read once.
double TimeFactor();

// `d` multiplied by TimeFactor(), rounded up to a whole tick of D.
template <class Rep, class Period>
std::chrono::duration<Rep, Period> Scaled(std::chrono::duration<Rep, Period> d) {
  const double scaled = static_cast<double>(d.count()) * TimeFactor();
  auto ticks = static_cast<Rep>(scaled);
  if (static_cast<double>(ticks) < scaled) ++ticks;
  return std::chrono::duration<Rep, Period>(ticks);
}

}  // namespace tideline::testing
