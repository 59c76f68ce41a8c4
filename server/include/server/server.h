// The Kinesis-compatible HTTP API (JSON 1.1 protocol) on Boost.Asio/Beast.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "storage/status.h"
#include "storage/store.h"

namespace tideline::pipeline {
class Pipeline;
}

namespace tideline::server {

struct ServerOptions {
  // Default: 127.0.0.1
  std::string host = "127.0.0.1";
  // 0 picks a free port (see Server::port()). Default: 4567
  uint16_t port = 4567;
  // Threads running the I/O context. Default: 2
  int io_threads = 2;
  // Largest request body accepted; larger gets 413 with a Kinesis-shaped error.
  // Default: 8 MiB (a full PutRecords of 5 MiB of data is about 6.7 MiB of base64 and JSON)
  size_t max_body_bytes = 8u << 20;
  // A connection idle this long is closed. Default: 60 s
  std::chrono::seconds idle_timeout{60};
  // Region and 12-digit account id used in stream ARNs and messages.
  // Default: us-east-1 and 123456789012, as the common emulators use.
  std::string region = "us-east-1";
  std::string account_id = "123456789012";
  // Shard iterators expire this long after they were issued. Default: 5 min (Kinesis)
  std::chrono::milliseconds iterator_ttl{5 * 60 * 1000};
};

class Server {
 public:
  // Binds and starts serving on background threads. The store must outlive the server, and so
  // must `pipelines`, whose status GET /pipelines[/NAME] and GET /metrics report.
  static Result<std::unique_ptr<Server>> Start(const ServerOptions& options, storage::Store& store,
                                               std::vector<pipeline::Pipeline*> pipelines = {});
  virtual ~Server() = default;
  // The port actually bound.
  virtual uint16_t port() const = 0;
  // Stops accepting, lets in-flight requests finish, joins the threads. Idempotent.
  virtual void Stop() = 0;
};

}  // namespace tideline::server
