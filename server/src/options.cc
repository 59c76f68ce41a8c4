#include "server/options.h"

#include <fmt/format.h>

#include "tls_context.h"

namespace tideline::server {

namespace {

Status CheckRange(std::string_view key, IntRange range, int64_t value) {
  if (range.Contains(value)) return Status::Ok();
  return Status::InvalidArgument(
      fmt::format("{}: expected an integer in {}..{}, got {}", key, range.min, range.max, value));
}

}  // namespace

Status ValidateServerOptions(const ServerOptions& o) {
  using O = ServerOptions;
  if (o.host.empty()) return Status::InvalidArgument("listen: expected HOST:PORT, got no host");
  TL_RETURN_IF_ERROR(CheckRange("io_threads", O::kIoThreads, o.io_threads));
  TL_RETURN_IF_ERROR(
      CheckRange("max_body_bytes", O::kMaxBodyBytes, static_cast<int64_t>(o.max_body_bytes)));
  TL_RETURN_IF_ERROR(CheckRange("idle_timeout_s", O::kTimeoutSeconds, o.idle_timeout.count()));
  TL_RETURN_IF_ERROR(CheckRange("header_timeout_s", O::kTimeoutSeconds, o.header_timeout.count()));
  TL_RETURN_IF_ERROR(
      CheckRange("max_connections", O::kMaxConnections, static_cast<int64_t>(o.max_connections)));
  TL_RETURN_IF_ERROR(CheckRange("max_inflight_bytes", O::kMaxInflightBytes,
                                static_cast<int64_t>(o.max_inflight_bytes)));
  if (o.max_inflight_bytes < o.max_body_bytes) {
    // A body the server accepts must fit in the budget, or it could never be served.
    return Status::InvalidArgument(
        fmt::format("max_inflight_bytes ({}) must be >= max_body_bytes ({})", o.max_inflight_bytes,
                    o.max_body_bytes));
  }
  const ThroughputLimits& t = o.throughput_limits;
  using T = ThroughputLimits;
  TL_RETURN_IF_ERROR(
      CheckRange("throughput_limits.write_bytes_per_sec", T::kBytesPerSec, t.write_bytes_per_sec));
  TL_RETURN_IF_ERROR(
      CheckRange("throughput_limits.write_records_per_sec", T::kPerSec, t.write_records_per_sec));
  TL_RETURN_IF_ERROR(
      CheckRange("throughput_limits.read_bytes_per_sec", T::kBytesPerSec, t.read_bytes_per_sec));
  TL_RETURN_IF_ERROR(CheckRange("throughput_limits.reads_per_sec", T::kPerSec, t.reads_per_sec));
  TL_RETURN_IF_ERROR(CheckRange("throughput_limits.shard_iterators_per_sec", T::kPerSec,
                                t.shard_iterators_per_sec));
  TL_RETURN_IF_ERROR(CheckRange("subscription_duration_ms", O::kSubscriptionDurationMs,
                                o.subscription_duration.count()));
  if (o.iterator_ttl.count() <= 0) return Status::InvalidArgument("iterator_ttl must be > 0");
  TL_RETURN_IF_ERROR(o.account.Validate());
  if (o.tls) {
    TL_RETURN_IF_ERROR(CheckRange("tls.handshake_timeout_s", O::kTimeoutSeconds,
                                  o.tls->handshake_timeout.count()));
    // The files as the server will load them: a problem is a start-up error, not a failed
    // handshake later.
    Result<std::shared_ptr<boost::asio::ssl::context>> context = LoadTlsContext(*o.tls);
    if (!context.ok()) return context.status();
  }
  return Status::Ok();
}

}  // namespace tideline::server
