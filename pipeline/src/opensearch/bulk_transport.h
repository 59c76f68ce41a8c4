// The transport of the OpenSearch destination: libcurl's multi interface sending a set of
// requests concurrently, over kept-alive connections, to one or more nodes round robin, with
// basic auth and TLS.
//
// Thread safety: none; the destination's delivery thread owns it. Send returns only when every
// request has its answer (or its transport error), or early when stop is requested.
#pragma once

#include <chrono>
#include <memory>
#include <span>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "pipeline/options.h"

namespace tideline::pipeline::opensearch {

struct HttpResponse {
  // HTTP status; 0 when there was no response (then `error` says why).
  int status = 0;
  std::string body;
  bool timed_out = false;
  std::string error;
  // Base URL of the node that was asked.
  std::string node;
};

struct HttpRequest {
  std::string_view method;  // "GET", "POST"
  std::string_view path;    // "/_bulk"
  std::string_view body;
  bool gzip = false;  // body is gzipped: sends Content-Encoding: gzip
};

class BulkTransport {
 public:
  // `options` are validated (ValidateOpenSearchDestination); fails only when libcurl does.
  static Result<std::unique_ptr<BulkTransport>> Make(const OpenSearchDestinationOptions& options);
  ~BulkTransport();

  // Sends every request, at most `concurrency` at once, and fills responses[i] for requests[i].
  // A node whose request failed without a response is avoided for a while when there are
  // others. Returns early (responses incomplete) when stop is requested.
  void Send(std::span<const HttpRequest> requests, std::span<HttpResponse> responses,
            std::stop_token stop);

 private:
  struct Impl;
  explicit BulkTransport(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tideline::pipeline::opensearch
