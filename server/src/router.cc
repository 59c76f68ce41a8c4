#include "router.h"

#include <array>

#include <fmt/format.h>

#include "auth_resource.h"
#include "cbor_codec.h"
#include "common/clock.h"
#include "common/prometheus.h"
#include "common/regional_stream.h"
#include "errors.h"
#include "iterator_token.h"
#include "pipeline_admin.h"

namespace tideline::server {

namespace http = boost::beast::http;

namespace {

constexpr std::string_view kAmzJson = "application/x-amz-json-1.1";
constexpr std::string_view kTargetPrefix = "Kinesis_20131202.";

// The target without its query: routes match paths.
std::string_view PathOf(std::string_view target) {
  return target.substr(0, target.find('?'));
}

ApiResponse TextResponse(unsigned status, std::string content_type, std::string body) {
  ApiResponse resp;
  resp.status = status;
  resp.content_type = std::move(content_type);
  resp.body = std::move(body);
  return resp;
}

std::vector<pipeline::PipelineStatus> Statuses(const std::vector<pipeline::Pipeline*>& pipelines) {
  std::vector<pipeline::PipelineStatus> statuses;
  statuses.reserve(pipelines.size());
  for (pipeline::Pipeline* p : pipelines)
    statuses.push_back(p->GetStatus());
  return statuses;
}

}  // namespace

Router::Router(Context ctx) : ctx_(std::move(ctx)) {
  if (!ctx_.now_ms) ctx_.now_ms = &WallClockMs;
}

std::span<const Router::Route> Router::Routes() {
  // Checked in order; the first match wins. A POST to any other path is a Kinesis call, as
  // the SDKs post to the endpoint's root (or to whatever path the endpoint URL carries).
  static constexpr std::array kRoutes = {
      Route{http::verb::get, "/health", "", true, true, &Router::Health},
      Route{http::verb::get, "/metrics", "", true, true, &Router::MetricsText},
      Route{http::verb::get, "/pipelines", "", true, false, &Router::PipelineList},
      Route{http::verb::get, "/pipelines/", "", false, false, &Router::PipelineOne},
      Route{http::verb::post, "/pipelines/", "/reset", false, false, &Router::PipelineReset},
      Route{http::verb::post, "", "", false, false, &Router::Kinesis},
  };
  return kRoutes;
}

const Router::Route* Router::Find(http::verb method, std::string_view target,
                                  std::string_view* param) {
  for (const Route& r : Routes()) {
    if (r.method != method) continue;
    if (r.exact) {
      if (target != r.prefix) continue;
      *param = {};
      return &r;
    }
    if (!target.starts_with(r.prefix) || !target.ends_with(r.suffix) ||
        target.size() < r.prefix.size() + r.suffix.size()) {
      continue;
    }
    *param = target.substr(r.prefix.size(), target.size() - r.prefix.size() - r.suffix.size());
    // POST /pipelines//reset names no pipeline: it is not a reset.
    if (!r.suffix.empty() && param->empty()) continue;
    return &r;
  }
  return nullptr;
}

RouteClass Router::Classify(http::verb method, std::string_view target,
                            std::string_view amz_target) const {
  std::string_view param;
  const Route* route = Find(method, PathOf(target), &param);
  if (route == nullptr) return {};
  if (route->handler == &Router::Kinesis) return {KindOfTarget(amz_target), false};
  return {OperationKind::kOther, route->probe};
}

void Router::Dispatch(RouterRequest req, ResponseCallback done, const RespondOn& respond_on) const {
  std::string_view param;
  const Route* route = Find(req.method, PathOf(req.target), &param);
  req.region.clear();
  if (route != nullptr && ctx_.auth != nullptr && !Authorized(req, *route, param, done)) return;
  if (route != nullptr && ctx_.auth == nullptr && route->handler == &Router::Kinesis &&
      req.headers != nullptr) {
    const auto authorization = req.headers->find(http::field::authorization);
    const size_t q = req.target.find('?');
    req.region = auth::CredentialScopeRegion(
        authorization == req.headers->end()
            ? std::string_view()
            : std::string_view(authorization->value().data(), authorization->value().size()),
        q == std::string_view::npos ? std::string_view() : req.target.substr(q + 1));
  }
  if (route == nullptr) {
    done(MakeError(ApiErrorType::kUnknownOperation,
                   fmt::format("Unsupported method {} {}",
                               std::string_view(http::to_string(req.method).data(),
                                                http::to_string(req.method).size()),
                               req.target.substr(0, 128))));
    return;
  }
  (this->*route->handler)(req, param, done, respond_on);
}

bool Router::Authorized(RouterRequest& req, const Route& route, std::string_view param,
                        ResponseCallback& done) const {
  if (route.handler == &Router::Health) return true;
  if (route.handler == &Router::MetricsText &&
      ctx_.auth->options().metrics == auth::MetricsAccess::kOpen) {
    return true;
  }
  std::vector<auth::Header> headers;
  if (req.headers != nullptr) {
    headers.reserve(16);
    for (const auto& field : *req.headers) {
      headers.push_back({std::string_view(field.name_string().data(), field.name_string().size()),
                         std::string_view(field.value().data(), field.value().size())});
    }
  }
  const auto method = http::to_string(req.method);
  const auth::AuthRequest auth_req{std::string_view(method.data(), method.size()), req.target,
                                   &headers, req.body ? std::string_view(*req.body) : ""};
  auth::Identity identity;
  if (auto error = ctx_.auth->Authenticate(auth_req, ctx_.now_ms() / 1000, &identity)) {
    done(MakeAuthError(*error));
    return false;
  }
  req.region = identity.region;
  const auto [action, resource] = ActionAndResource(req, route, param, identity.region);
  if (action.empty()) return true;  // not a Kinesis operation: the API answers it
  if (auto error = ctx_.auth->Authorize(identity, action, resource)) {
    done(MakeAuthError(*error));
    return false;
  }
  return true;
}

std::pair<std::string, std::string> Router::ActionAndResource(const RouterRequest& req,
                                                              const Route& route,
                                                              std::string_view param,
                                                              std::string_view region) const {
  const auth::Authenticator& a = *ctx_.auth;
  if (route.handler == &Router::MetricsText) {
    return {"tideline:ReadMetrics", a.AdminArn(region, "metrics")};
  }
  if (route.handler == &Router::PipelineList) {
    return {"tideline:ReadStatus", a.AdminArn(region, "pipeline/*")};
  }
  if (route.handler == &Router::PipelineOne) {
    return {"tideline:ReadStatus", a.AdminArn(region, "pipeline/" + std::string(param))};
  }
  if (route.handler == &Router::PipelineReset) {
    return {"tideline:ResetPipeline", a.AdminArn(region, "pipeline/" + std::string(param))};
  }
  if (!req.amz_target.starts_with(kTargetPrefix)) return {};
  const std::string_view operation = req.amz_target.substr(kTargetPrefix.size());
  std::string action = "kinesis:" + std::string(operation);
  const StreamMembers members = FindStreamMembers(req.body ? std::string_view(*req.body) : "");
  // A call naming a consumer by its ARN (SubscribeToShard, DescribeStreamConsumer,
  // DeregisterStreamConsumer) acts on the consumer's stream: principals are granted streams
  // (auth.principals[].streams), and a consumer is part of its stream
  // ("arn:aws:kinesis:REGION:ACCOUNT:stream/NAME/consumer/C:TS" -> ".../stream/NAME"). A
  // malformed ARN is checked as it is; the handler refuses it.
  if (members.consumer_arn) {
    std::string_view arn = *members.consumer_arn;
    if (const size_t consumer = arn.find("/consumer/"); consumer != std::string_view::npos) {
      arn = arn.substr(0, consumer);
    }
    return {std::move(action), std::string(arn)};
  }
  // StreamARN wins: when both are given and differ the handler refuses the call anyway.
  if (members.stream_arn) return {std::move(action), *members.stream_arn};
  if (members.stream_name) return {std::move(action), a.StreamArn(region, *members.stream_name)};
  if (members.shard_iterator) {
    if (auto pos = DecodeShardIterator(*members.shard_iterator, ctx_.store->IteratorSecret())) {
      // The iterator's stream, in its own region (GetRecords refuses another region's).
      const StoredStreamParts stream = SplitStoredStreamName(pos->stream_name);
      return {
          std::move(action),
          a.StreamArn(stream.region.empty() ? std::string_view(ctx_.api->context().account.region)
                                            : stream.region,
                      stream.name)};
    }
  }
  return {std::move(action), a.StreamArn(region, "*")};
}

void Router::Kinesis(RouterRequest& req, std::string_view, ResponseCallback& done,
                     const RespondOn& respond_on) const {
  const std::string_view ct = req.content_type;
  if (cbor::IsCborContentType(ct)) {
    // The CBOR protocol: the body becomes the JSON the handlers read, their answer (or error)
    // goes back as CBOR (cbor_codec.h).
    std::string op(req.amz_target.substr(0, 128));
    if (op.starts_with(kTargetPrefix)) op.erase(0, kTargetPrefix.size());
    auto answer = [op, done = std::move(done)](ApiResponse resp) {
      done(cbor::ToCborResponse(op, std::move(resp)));
    };
    Result<std::string> json = cbor::DecodeRequest(req.body ? *req.body : std::string_view());
    if (!json.ok()) {
      answer(MakeError(ApiErrorType::kSerialization, json.status().message()));
      return;
    }
    ctx_.api->Handle(req.amz_target, std::make_shared<std::string>(std::move(json.value())),
                     std::move(answer), respond_on, req.region, /*cbor=*/true);
    return;
  }
  if (!ct.empty() && !ct.starts_with(kAmzJson) && !ct.starts_with("application/json")) {
    done(MakeError(ApiErrorType::kSerialization,
                   fmt::format("Unsupported Content-Type: {}", ct.substr(0, 100))));
    return;
  }
  ctx_.api->Handle(req.amz_target, std::move(req.body), std::move(done), respond_on, req.region);
}

void Router::Health(RouterRequest&, std::string_view, ResponseCallback& done,
                    const RespondOn&) const {
  const Status health = ctx_.store->Health();
  done(TextResponse(health.ok() ? 200 : 503, "text/plain",
                    health.ok() ? std::string("ok") : health.ToString()));
}

void Router::MetricsText(RouterRequest&, std::string_view, ResponseCallback& done,
                         const RespondOn&) const {
  PrometheusWriter w;
  ctx_.metrics->Render(w, ctx_.store->Health(), ctx_.store->Stats());
  RenderLimitMetrics(w, *ctx_.limits);
  if (ctx_.subscriptions != nullptr) ctx_.subscriptions->Render(w);
  pipeline::WritePipelineMetrics(w, Statuses(*ctx_.pipelines));
  done(TextResponse(200, "text/plain; version=0.0.4", w.Take()));
}

void Router::PipelineList(RouterRequest&, std::string_view, ResponseCallback& done,
                          const RespondOn&) const {
  done(TextResponse(200, "application/json",
                    pipeline::PipelineStatusJson(Statuses(*ctx_.pipelines))));
}

void Router::PipelineOne(RouterRequest&, std::string_view name, ResponseCallback& done,
                         const RespondOn&) const {
  for (pipeline::Pipeline* p : *ctx_.pipelines) {
    pipeline::PipelineStatus status = p->GetStatus();
    if (status.name != name) continue;
    done(TextResponse(200, "application/json", pipeline::PipelineStatusJson({std::move(status)})));
    return;
  }
  done(MakeError(ApiErrorType::kResourceNotFound,
                 fmt::format("Pipeline {} not found.", name.substr(0, 128))));
}

void Router::PipelineReset(RouterRequest& req, std::string_view name, ResponseCallback& done,
                           const RespondOn& respond_on) const {
  // A reset waits for the pipeline's delivery to stop: off the I/O threads.
  ctx_.blocking([this, name = std::string(name), body = std::move(req.body), done = std::move(done),
                 respond_on]() mutable {
    ApiResponse resp = HandlePipelineReset(*ctx_.pipelines, name, *body);
    if (!respond_on) {
      done(std::move(resp));
      return;
    }
    respond_on(
        [done = std::move(done), resp = std::move(resp)]() mutable { done(std::move(resp)); });
  });
}

}  // namespace tideline::server
