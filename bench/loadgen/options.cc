#include "options.h"

#include <cmath>

#include "common/types.h"
#include "kinesis_admin.h"

namespace tideline::loadgen {

std::string ValidateOptions(const LoadgenOptions& options) {
  if (!StreamName::IsValid(options.stream)) {
    return "--stream must be 1..128 characters of a-z A-Z 0-9 _ . -";
  }
  if (options.connections < 1 || options.connections > 1024) {
    return "--connections must be 1..1024";
  }
  if (options.batch < 1 || options.batch > 500) return "--batch must be 1..500 (Kinesis limit)";
  if (options.record_size < 1 || options.record_size > (1u << 20)) {
    return "--record-size must be 1..1048576 bytes (Kinesis limit)";
  }
  if (options.mode == Mode::kPutRecords &&
      options.record_size * static_cast<size_t>(options.batch) > (5u << 20)) {
    return "--batch x --record-size must be at most 5 MiB (Kinesis PutRecords limit)";
  }
  if (!std::isfinite(options.seconds) || options.seconds <= 0 || options.seconds > 86400) {
    return "--seconds must be in (0, 86400]";
  }
  if (options.create_shards < 0 || options.create_shards > 10000) {
    return "--create-shards must be 0..10000";
  }
  if (!std::isfinite(options.report_interval) || options.report_interval < 0.1) {
    return "--report-interval must be at least 0.1 s";
  }
  if (options.pool_requests < 1 || options.pool_requests > 1024) {
    return "--pool-requests must be 1..1024";
  }
  if (options.limit < 1 || options.limit > 10000) return "--limit must be 1..10000";
  if (!std::isfinite(options.rate) || options.rate < 0) return "--rate must be >= 0 records/s";
  if (!options.https && !options.ca_file.empty()) return "--ca-file needs --https";
  return "";
}

}  // namespace tideline::loadgen
