#include "server/options.h"

#include <fmt/format.h>

namespace tideline::server {

Status ValidateServerOptions(const ServerOptions& o) {
  if (o.io_threads < 1) return Status::InvalidArgument("server io_threads must be >= 1");
  if (o.max_body_bytes < 1024) return Status::InvalidArgument("max_body_bytes must be >= 1024");
  if (o.idle_timeout.count() <= 0) return Status::InvalidArgument("idle_timeout must be > 0");
  if (o.header_timeout.count() <= 0) return Status::InvalidArgument("header_timeout must be > 0");
  if (o.max_connections < 1) return Status::InvalidArgument("max_connections must be >= 1");
  if (o.max_inflight_bytes < o.max_body_bytes) {
    return Status::InvalidArgument(
        fmt::format("max_inflight_bytes ({}) must be >= max_body_bytes ({})", o.max_inflight_bytes,
                    o.max_body_bytes));
  }
  if (o.iterator_ttl.count() <= 0) return Status::InvalidArgument("iterator_ttl must be > 0");
  TL_RETURN_IF_ERROR(o.account.Validate());
  return Status::Ok();
}

}  // namespace tideline::server
