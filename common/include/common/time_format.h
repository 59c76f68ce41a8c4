// Calendar arithmetic and the one timestamp spelling tideline writes (documents, CLI output):
// ISO-8601 UTC with milliseconds, "2000-10-10T20:55:36.000Z" (what OpenSearch's default
// date mapping, strict_date_optional_time, reads). Hand-written so the per-record paths
// (access log @timestamp, metadata arrival_timestamp) use no locale, no strftime/strptime and
// no allocation.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tideline {

// Length of FormatIso8601Millis's output.
inline constexpr size_t kIso8601MillisLength = 24;

// Days since 1970-01-01 of the proleptic Gregorian date y-m-d (m 1..12, d 1..31, any y).
// H. Hinnant's days_from_civil.
constexpr int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);                 // [0, 399]
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;  // [0, 365]
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;            // [0, 146096]
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

struct CivilDate {
  int64_t year;
  unsigned month;  // 1..12
  unsigned day;    // 1..31
};

// Inverse of DaysFromCivil.
constexpr CivilDate CivilFromDays(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);                    // [0, 146096]
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;  // [0, 399]
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);                // [0, 365]
  const unsigned mp = (5 * doy + 2) / 153;                                     // [0, 11]
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {static_cast<int64_t>(yoe) + era * 400 + (m <= 2 ? 1 : 0), m, d};
}

constexpr bool IsLeapYear(int64_t y) {
  return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

constexpr unsigned DaysInMonth(int64_t y, unsigned m) {
  constexpr unsigned kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeapYear(y) ? 29 : kDays[m - 1];
}

// Earliest and latest instants FormatIso8601Millis can spell with a 4-digit year.
inline constexpr int64_t kMinIso8601Millis = DaysFromCivil(0, 1, 1) * 86'400'000;
inline constexpr int64_t kMaxIso8601Millis = DaysFromCivil(10000, 1, 1) * 86'400'000 - 1;

// Writes `epoch_ms` (milliseconds since 1970-01-01T00:00:00Z) as "YYYY-MM-DDTHH:MM:SS.mmmZ",
// exactly kIso8601MillisLength bytes, not NUL-terminated. Returns false (writing nothing) when
// the instant lies outside [kMinIso8601Millis, kMaxIso8601Millis].
constexpr bool FormatIso8601Millis(int64_t epoch_ms, char* out) {
  if (epoch_ms < kMinIso8601Millis || epoch_ms > kMaxIso8601Millis) return false;
  // Floor division, so instants before 1970 land on the right day.
  int64_t days = epoch_ms / 86'400'000;
  int64_t ms_of_day = epoch_ms % 86'400'000;
  if (ms_of_day < 0) {
    ms_of_day += 86'400'000;
    --days;
  }
  const CivilDate date = CivilFromDays(days);
  const auto put = [&out](size_t at, int64_t value, int width) {
    for (int i = width - 1; i >= 0; --i) {
      out[at + static_cast<size_t>(i)] = static_cast<char>('0' + value % 10);
      value /= 10;
    }
  };
  put(0, date.year, 4);
  out[4] = '-';
  put(5, date.month, 2);
  out[7] = '-';
  put(8, date.day, 2);
  out[10] = 'T';
  put(11, ms_of_day / 3'600'000, 2);
  out[13] = ':';
  put(14, ms_of_day / 60'000 % 60, 2);
  out[16] = ':';
  put(17, ms_of_day / 1000 % 60, 2);
  out[19] = '.';
  put(20, ms_of_day % 1000, 3);
  out[23] = 'Z';
  return true;
}

}  // namespace tideline
