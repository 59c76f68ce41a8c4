// Index names: OpenSearch's naming rules and Firehose's time-based rotation.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "pipeline/options.h"

namespace tideline::pipeline::opensearch {

// OpenSearch's rules for an index name (lowercase; none of \ / * ? " < > | , # : or space; not
// starting with _ - +; not "." or ".."; at most 255 bytes). `what` names it in the error.
Status ValidateIndexName(std::string_view name, std::string_view what);

// The longest suffix a rotation appends ("-2016-02-25-13").
inline constexpr size_t kMaxRotationSuffix = 14;

// Index name for a record that arrived at `arrival_ms` (UTC), with Firehose's suffixes:
// NoRotation "logs", OneHour "logs-2016-02-25-13", OneDay "logs-2016-02-25", OneWeek
// "logs-2016-w08", OneMonth "logs-2016-02". The week is strftime's %U (weeks start on Sunday;
// days before the year's first Sunday are week 00), which gives Firehose's published
// example (2016-02-25 -> w08).
//
// Callers ask once per record; the result changes only at a period boundary, so this keeps the
// last period and answers from it without formatting.
class IndexNamer {
 public:
  IndexNamer(std::string base, IndexRotation rotation);
  // The name for `arrival_ms`; the view is valid until the next call.
  std::string_view NameFor(int64_t arrival_ms);

 private:
  std::string base_;
  IndexRotation rotation_;
  // [period_start_ms_, period_end_ms_) is the period `name_` belongs to.
  int64_t period_start_ms_ = 1;
  int64_t period_end_ms_ = 0;
  std::string name_;
};

}  // namespace tideline::pipeline::opensearch
