#include "fanout_options.h"

#include <cmath>

#include "common/types.h"
#include "record_ids.h"

namespace tideline::fanout {

std::string ValidateFanoutOptions(const FanoutOptions& options) {
  if (!StreamName::IsValid(options.stream)) {
    return "--stream must be 1..128 characters of a-z A-Z 0-9 _ . -";
  }
  // Kinesis allows 20 consumers a stream.
  if (options.consumers < 1 || options.consumers > 20) return "--consumers must be 1..20";
  if (!std::isfinite(options.rate) || options.rate <= 0 || options.rate > 1e7) {
    return "--rate must be in (0, 10000000] records/s";
  }
  if (options.batch < 1 || options.batch > 500) return "--batch must be 1..500 (Kinesis limit)";
  if (options.producer_connections < 1 || options.producer_connections > 256) {
    return "--producer-connections must be 1..256";
  }
  if (options.record_size < kIdBytes || options.record_size > (1u << 20)) {
    return "--record-size must be 18..1048576 bytes (the id, the Kinesis limit)";
  }
  if (options.record_size * static_cast<size_t>(options.batch) > (5u << 20)) {
    return "--batch x --record-size must be at most 5 MiB (Kinesis PutRecords limit)";
  }
  if (!std::isfinite(options.seconds) || options.seconds <= 0 || options.seconds > 86400) {
    return "--seconds must be in (0, 86400]";
  }
  if (!std::isfinite(options.warmup_seconds) || options.warmup_seconds < 0 ||
      options.warmup_seconds >= options.seconds) {
    return "--warmup-seconds must be in [0, --seconds)";
  }
  if (!std::isfinite(options.drain_seconds) || options.drain_seconds <= 0 ||
      options.drain_seconds > 3600) {
    return "--drain-seconds must be in (0, 3600]";
  }
  if (!std::isfinite(options.prefill_mib) || options.prefill_mib <= 0 ||
      options.prefill_mib > 1e6) {
    return "--prefill-mib must be in (0, 1000000]";
  }
  if (!std::isfinite(options.report_interval) || options.report_interval < 0.1) {
    return "--report-interval must be at least 0.1 s";
  }
  // The latency run keeps a slot per record sent: bound it (16 bytes + 8 per consumer each).
  if (options.mode == FanoutMode::kLatency && options.rate * options.seconds > 200e6) {
    return "--rate x --seconds must be at most 200,000,000 records";
  }
  if (!options.https && !options.ca_file.empty()) return "--ca-file needs --https";
  return "";
}

}  // namespace tideline::fanout
