#include "test_util/time_factor.h"

#include <cmath>
#include <cstdlib>
#include <string>

namespace tideline::testing {

double TimeFactor() {
  static const double factor = [] {
    const char* text = std::getenv("TIDELINE_TEST_TIME_FACTOR");
    if (text == nullptr || *text == '\0') return 1.0;
    char* end = nullptr;
    const double v = std::strtod(text, &end);
    // A typo must not shrink budgets (or make them infinite): anything odd counts as 1.
    if (end == text || *end != '\0' || !std::isfinite(v) || v < 1.0 || v > 1000.0) return 1.0;
    return v;
  }();
  return factor;
}

}  // namespace tideline::testing
