#include "opensearch/index_name.h"

#include <chrono>
#include <cstdio>

namespace tideline::pipeline::opensearch {
namespace {

using std::chrono::days;
using std::chrono::duration_cast;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::sys_days;

int64_t ToMs(sys_days d) {
  return duration_cast<milliseconds>(d.time_since_epoch()).count();
}

}  // namespace

Status ValidateIndexName(std::string_view name, std::string_view what) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument(std::string(what) + " '" + std::string(name) + "' " + why);
  };
  if (name.empty()) return bad("is empty");
  if (name.size() > 255) return bad("is longer than 255 bytes");
  if (name == "." || name == "..") return bad("is not allowed");
  if (name[0] == '_' || name[0] == '-' || name[0] == '+') {
    return bad("must not start with _, - or +");
  }
  for (char c : name) {
    if (c >= 'A' && c <= 'Z') return bad("must be lowercase");
    if (std::string_view("\\/*?\"<>|, #:").find(c) != std::string_view::npos) {
      return bad("must not contain \\ / * ? \" < > | , # : or spaces");
    }
  }
  return Status::Ok();
}

IndexNamer::IndexNamer(std::string base, IndexRotation rotation)
    : base_(std::move(base)), rotation_(rotation), name_(base_) {}

std::string_view IndexNamer::NameFor(int64_t arrival_ms) {
  if (rotation_ == IndexRotation::kNoRotation) return name_;
  if (arrival_ms >= period_start_ms_ && arrival_ms < period_end_ms_) return name_;

  const auto tp = std::chrono::sys_time<milliseconds>(milliseconds(arrival_ms));
  const sys_days day = std::chrono::floor<days>(tp);
  const std::chrono::year_month_day ymd(day);
  const int y = static_cast<int>(ymd.year());
  const unsigned m = static_cast<unsigned>(ymd.month());
  const unsigned d = static_cast<unsigned>(ymd.day());
  char suffix[32];
  switch (rotation_) {
    case IndexRotation::kOneHour: {
      const auto h = std::chrono::floor<hours>(tp - day);
      std::snprintf(suffix, sizeof suffix, "-%04d-%02u-%02u-%02d", y, m, d,
                    static_cast<int>(h.count()));
      period_start_ms_ = ToMs(day) + duration_cast<milliseconds>(h).count();
      period_end_ms_ = period_start_ms_ + 3'600'000;
      break;
    }
    case IndexRotation::kOneDay:
      std::snprintf(suffix, sizeof suffix, "-%04d-%02u-%02u", y, m, d);
      period_start_ms_ = ToMs(day);
      period_end_ms_ = ToMs(day + days(1));
      break;
    case IndexRotation::kOneWeek: {
      // %U: week 1 starts on the year's first Sunday; the days before it are week 0.
      const sys_days jan1 = sys_days(ymd.year() / std::chrono::January / 1);
      const int yday = (day - jan1).count();
      const int wday = static_cast<int>(std::chrono::weekday(day).c_encoding());  // 0 = Sunday
      const int week = (yday + 7 - wday) / 7;
      std::snprintf(suffix, sizeof suffix, "-%04d-w%02d", y, week);
      const sys_days week_start = day - days(wday);
      const sys_days next_year = sys_days((ymd.year() + std::chrono::years(1)) / 1 / 1);
      period_start_ms_ = std::max(ToMs(week_start), ToMs(jan1));
      period_end_ms_ = std::min(ToMs(week_start + days(7)), ToMs(next_year));
      break;
    }
    case IndexRotation::kOneMonth: {
      std::snprintf(suffix, sizeof suffix, "-%04d-%02u", y, m);
      const auto first = ymd.year() / ymd.month() / 1;
      period_start_ms_ = ToMs(sys_days(first));
      period_end_ms_ = ToMs(sys_days(first + std::chrono::months(1)));
      break;
    }
    case IndexRotation::kNoRotation:
      break;
  }
  name_.assign(base_).append(suffix);
  return name_;
}

}  // namespace tideline::pipeline::opensearch
