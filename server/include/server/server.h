// The Kinesis-compatible HTTP API (JSON 1.1 protocol) on Boost.Asio/Beast.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "server/options.h"
#include "storage/store.h"

namespace tideline::pipeline {
class Pipeline;
}

namespace tideline::server {

class Server {
 public:
  // Binds and starts serving on background threads. The store must outlive the server, and so
  // must `pipelines`, whose status GET /pipelines[/NAME] and GET /metrics report.
  static Result<std::unique_ptr<Server>> Start(const ServerOptions& options, storage::Store& store,
                                               std::vector<pipeline::Pipeline*> pipelines = {});
  virtual ~Server() = default;
  // The port actually bound.
  virtual uint16_t port() const = 0;
  // With server.tls: loads the certificate and key files again and uses them for connections
  // accepted from now on; open connections keep the certificate they started with. A failure
  // (the message names the file) keeps the current certificate. Without TLS: Ok, nothing to do.
  // Safe from any thread.
  [[nodiscard]] virtual Status ReloadTls() = 0;
  // Stops accepting, lets in-flight requests finish, joins the threads. Idempotent.
  virtual void Stop() = 0;
};

}  // namespace tideline::server
