// The one table from an HTTP request to its handler:
//
//   POST (any path) with X-Amz-Target: Kinesis_20131202.<Operation>   the Kinesis API (Api)
//   GET  /health                      200 "ok", or 503 with the store's sticky error
//   GET  /metrics                     Prometheus text: API, HTTP limits, store, pipelines
//   GET  /pipelines, /pipelines/NAME  pipeline status JSON
//   POST /pipelines/NAME/reset        moves a pipeline's checkpoints (pipeline_admin.h)
//
// The HTTP session frames, times out and writes; what a request means is decided here, so
// checks that apply to every request sit in Dispatch, in one place, before any handler runs.
//
// Authentication (Context::auth set, auth.mode sigv4): every request but GET /health (and
// GET /metrics while auth.metrics is open) must carry a valid SigV4 signature, and its key must
// be allowed the action on the resource:
//   Kinesis call        kinesis:<Operation> on the stream ARN its body names (the stream of a
//                       ConsumerARN, or StreamARN, or StreamName, or the stream of a
//                       GetRecords ShardIterator), else on arn:aws:kinesis:REGION:ACCOUNT:stream/*
//   GET /pipelines      tideline:ReadStatus on arn:aws:tideline:REGION:ACCOUNT:pipeline/*
//   GET /pipelines/N    tideline:ReadStatus on ...:pipeline/N
//   POST /pipelines/N/reset  tideline:ResetPipeline on ...:pipeline/N
//   GET /metrics        tideline:ReadMetrics on ...:metrics (auth.metrics protected)
// REGION is the region of the signature's credential scope. Refusals carry AWS's __type and
// wording (auth/errors.h).
//
// Regions: a Kinesis call acts in the region of its credential scope (with auth.mode none the
// scope is read, not checked: CredentialScopeRegion), else in server.region; each region has
// its own streams (common/regional_stream.h) and the handlers answer with its ARNs.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/beast/http/verb.hpp>

#include <boost/beast/http/fields.hpp>

#include "api.h"
#include "api_types.h"
#include "auth/authenticator.h"
#include "connection_limits.h"
#include "metrics.h"
#include "pipeline/pipeline.h"
#include "storage/store.h"
#include "subscriptions.h"

namespace tideline::server {

// What the HTTP layer needs to know of a request from its header alone.
struct RouteClass {
  // Which body limit and in-flight class applies (see http_session.cc).
  OperationKind kind = OperationKind::kOther;
  // GET /health or /metrics: answered even on a connection over max_connections.
  bool probe = false;
};

struct RouterRequest {
  boost::beast::http::verb method = boost::beast::http::verb::unknown;
  std::string_view target;        // the request target with its query, e.g. "/pipelines/web?x=1"
  std::string_view amz_target;    // X-Amz-Target, empty when absent
  std::string_view content_type;  // Content-Type, empty when absent
  std::shared_ptr<std::string> body;
  // Every header of the request, for signature checks and the credential scope's region; valid
  // while Dispatch runs. May be null (then the request has the default region).
  const boost::beast::http::fields* headers = nullptr;
  // Set by Dispatch, whatever the caller put here: the request's region, the one its SigV4
  // credential scope names (Authorization header or presigned query, checked with auth.mode
  // sigv4, merely read with none), empty for the default region (server.region) and for
  // requests that carry no scope.
  std::string region;
};

class Router {
 public:
  struct Context {
    Api* api = nullptr;
    Metrics* metrics = nullptr;
    storage::Store* store = nullptr;
    const std::vector<pipeline::Pipeline*>* pipelines = nullptr;
    const Limits* limits = nullptr;
    // Runs slow administrative work (a pipeline reset) off the I/O threads.
    BlockingExecutor blocking;
    // Checks signatures and permissions; null when auth.mode is none.
    const auth::Authenticator* auth = nullptr;
    // The clock signatures are checked against. Default: the wall clock
    NowMsFn now_ms;
    // SubscribeToShard's subscriptions, whose counters GET /metrics shows; may be null.
    const SubscriptionHub* subscriptions = nullptr;
  };

  // Everything in `ctx` must outlive the router.
  explicit Router(Context ctx);

  RouteClass Classify(boost::beast::http::verb method, std::string_view target,
                      std::string_view amz_target) const;

  // Answers `req`. `done` runs exactly once: inline on the caller's thread, or through
  // `respond_on` when the answer is produced elsewhere (the blocking pool, the store's writer).
  // With an empty `respond_on`, on whichever thread produced it.
  void Dispatch(RouterRequest req, ResponseCallback done, const RespondOn& respond_on) const;

 private:
  // A handler gets the request, the part of the path its route leaves variable (a pipeline
  // name), and the callbacks of Dispatch.
  using Handler = void (Router::*)(RouterRequest&, std::string_view, ResponseCallback&,
                                   const RespondOn&) const;
  struct Route {
    boost::beast::http::verb method;
    std::string_view prefix;  // the target starts with it ...
    std::string_view suffix;  // ... and ends with it
    bool exact;               // the target is exactly `prefix`
    bool probe;
    Handler handler;
  };
  // True when `req` may reach `route`'s handler; otherwise `done` has the refusal.
  // Sets req.region to the signer's region.
  bool Authorized(RouterRequest& req, const Route& route, std::string_view param,
                  ResponseCallback& done) const;
  // The action and resource a request to `route` needs.
  std::pair<std::string, std::string> ActionAndResource(const RouterRequest& req,
                                                        const Route& route, std::string_view param,
                                                        std::string_view region) const;
  static const Route* Find(boost::beast::http::verb method, std::string_view target,
                           std::string_view* param);
  static std::span<const Route> Routes();

  void Kinesis(RouterRequest& req, std::string_view, ResponseCallback& done,
               const RespondOn& respond_on) const;
  void Health(RouterRequest& req, std::string_view, ResponseCallback& done,
              const RespondOn& respond_on) const;
  void MetricsText(RouterRequest& req, std::string_view, ResponseCallback& done,
                   const RespondOn& respond_on) const;
  void PipelineList(RouterRequest& req, std::string_view, ResponseCallback& done,
                    const RespondOn& respond_on) const;
  void PipelineOne(RouterRequest& req, std::string_view name, ResponseCallback& done,
                   const RespondOn& respond_on) const;
  void PipelineReset(RouterRequest& req, std::string_view name, ResponseCallback& done,
                     const RespondOn& respond_on) const;

  Context ctx_;
};

}  // namespace tideline::server
