// The dispatcher: X-Amz-Target -> handler, run where it belongs (appends through the store's
// writer, reads and metadata calls on a blocking-work executor), with metrics.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "api_types.h"
#include "handlers.h"
#include "metrics.h"

namespace tideline::server {

// Runs a task off the I/O threads (the server passes a small thread pool).
using BlockingExecutor = std::function<void(std::function<void()>)>;

// What an X-Amz-Target asks for, as far as the HTTP layer's limits care (known from the header,
// before the body is read).
enum class OperationKind {
  kPut,    // PutRecord, PutRecords: bodies up to max_body_bytes
  kRead,   // GetRecords: a small body, a response of up to ~14 MB
  kOther,  // metadata calls and unknown targets: small bodies
};
OperationKind KindOfTarget(std::string_view target);

class Api {
 public:
  // `metrics` must outlive the Api.
  Api(HandlerContext ctx, Metrics& metrics, BlockingExecutor blocking);

  // Handles one request. `target` is the X-Amz-Target header value. `done` runs exactly once:
  // inline on the caller's thread for errors found at once, otherwise through `respond_on`
  // (from the blocking executor or the store's writer thread); with an empty `respond_on`, on
  // whichever of those threads produced the response. `region` is the request's region (a
  // valid one, see common/regional_stream.h); empty: the default region. Handlers see it as
  // HandlerContext::region, and `cbor` (the request came in CBOR, translated to JSON by the
  // router) as HandlerContext::cbor.
  void Handle(std::string_view target, std::shared_ptr<std::string> body, ResponseCallback done,
              const RespondOn& respond_on = {}, std::string_view region = {}, bool cbor = false);

  // Blocks until no request is being handled or `timeout` passes; true when drained.
  bool WaitIdle(std::chrono::milliseconds timeout);

  const HandlerContext& context() const { return ctx_; }

 private:
  void Finish();

  HandlerContext ctx_;
  Metrics& metrics_;
  BlockingExecutor blocking_;
  std::mutex mu_;
  std::condition_variable idle_cv_;
  int in_flight_ = 0;  // GUARDED_BY(mu_)
};

}  // namespace tideline::server
