// The driver of the OpenSearch destination: encode once, send in concurrent _bulk requests,
// apply the retry policy per item, and settle every document (delivered, or failed with its
// last error for the backup) within the retry duration.
#include <rapidjson/document.h>
#include "common/json_parse.h"

#include <algorithm>
#include <map>
#include <mutex>

#include "core/pipeline_log.h"
#include "core/stop_wait.h"
#include "opensearch/bulk_encoder.h"
#include "opensearch/bulk_transport.h"
#include "opensearch/index_name.h"
#include "opensearch/retry_policy.h"
#include "pipeline/destination.h"

namespace tideline::pipeline {
namespace {

using namespace opensearch;
using Clock = std::chrono::steady_clock;

constexpr std::chrono::milliseconds kBackoffBase{100};
constexpr std::chrono::milliseconds kBackoffCap{10'000};
// Only what the retry policy reads: OpenSearch then answers a few bytes per item instead of
// the whole write result.
constexpr std::string_view kBulkPath = "/_bulk?filter_path=errors,items.*.status,items.*.error";
// Most of a failed response's body quoted in an error message.
constexpr size_t kQuoteBytes = 300;

std::string Quote(std::string_view body) {
  std::string s(body.substr(0, kQuoteBytes));
  if (body.size() > kQuoteBytes) s += "...";
  return s;
}

class OpenSearchDestination final : public Destination {
 public:
  OpenSearchDestination(const OpenSearchDestinationOptions& options,
                        std::unique_ptr<BulkTransport> transport, uint32_t max_document_depth)
      : options_(options),
        transport_(std::move(transport)),
        encoder_(options, max_document_depth),
        backoff_(kBackoffBase, kBackoffCap, std::random_device{}()),
        max_request_bytes_(size_t{options.bulk_max_mib} << 20),
        description_(Describe(options)),
        log_(PipelineLogger()) {}

  std::string_view type() const override { return "opensearch"; }
  std::string description() const override { return description_; }

  Status Deliver(std::span<const Document> docs, std::span<DeliveryResult> results,
                 std::stop_token stop) override {
    const Status st = DeliverAll(docs, results, stop);
    std::lock_guard<std::mutex> lock(mu_);
    retrying_.clear();  // settled or stopped: nothing is waiting for a retry any more
    return st;
  }

  std::string retrying() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return retrying_;
  }

  DestinationCounters counters() const override {
    std::lock_guard<std::mutex> lock(mu_);
    DestinationCounters c = counters_;
    for (const auto& [status, n] : by_status_)
      c.documents_by_status.emplace_back(std::to_string(status), n);
    return c;
  }

 private:
  // Documents of one round, sorted into what happens next.
  struct Round {
    std::vector<uint32_t> retry;       // after a backoff
    std::vector<uint32_t> resend_now;  // split after a 413/400: no backoff
    size_t split_bytes = SIZE_MAX;     // request size limit for the resend
  };

  void CheckCluster(std::stop_token stop);
  static std::string Describe(const OpenSearchDestinationOptions& o) {
    std::string urls;
    for (const auto& u : o.urls)
      urls += (urls.empty() ? "" : ",") + u;
    return "opensearch:" + urls + "/" + o.index;
  }
  Status DeliverAll(std::span<const Document> docs, std::span<DeliveryResult> results,
                    std::stop_token stop);
  // Sorts the documents of one request by its response (or its absence) into `round`.
  void Settle(const BulkRequest& req, const HttpResponse& resp, std::span<DeliveryResult> results,
              Round& round);
  void SettleItems(const BulkRequest& req, const std::vector<BulkItem>& items,
                   std::span<DeliveryResult> results, Round& round);
  // Counts and reports a retry, then waits its backoff; false when stopped.
  bool WaitToRetry(const std::vector<uint32_t>& retry, std::span<const DeliveryResult> results,
                   int retry_round, Clock::time_point deadline, std::stop_token stop);
  static void SetError(DeliveryResult& r, std::string code, std::string message) {
    r.delivered = false;
    r.error_code = std::move(code);
    r.error_message = std::move(message);
  }

  const OpenSearchDestinationOptions options_;
  std::unique_ptr<BulkTransport> transport_;
  BulkEncoder encoder_;
  Backoff backoff_;
  // Lowered for good when the cluster answers 413 (its http.max_content_length is smaller).
  size_t max_request_bytes_;
  bool cluster_checked_ = false;
  const std::string description_;
  EncodedDocuments encoded_;
  std::shared_ptr<spdlog::logger> log_;

  mutable std::mutex mu_;
  DestinationCounters counters_;       // GUARDED_BY(mu_), without documents_by_status
  std::map<int, uint64_t> by_status_;  // GUARDED_BY(mu_)
  std::string retrying_;               // GUARDED_BY(mu_)
};

void OpenSearchDestination::CheckCluster(std::stop_token stop) {
  const HttpRequest get{"GET", "/", {}, false};
  HttpResponse resp;
  transport_->Send(std::span(&get, 1), std::span(&resp, 1), stop);
  if (resp.status == 0) {
    log_->warn("{}: not reachable yet: {}", description(), resp.error);
    return;  // asked again before the next flush
  }
  cluster_checked_ = true;
  if (resp.status == 401 || resp.status == 403) {
    log_->error("opensearch {}: GET / answered {}: check username and password: {}", resp.node,
                resp.status, Quote(resp.body));
    return;
  }
  rapidjson::Document info;
  const bool parsed = !json::ParseJson(info, resp.body, json::kPeerResponseLimits);
  const rapidjson::Value* version = nullptr;
  if (parsed && info.IsObject() && info.HasMember("version") && info["version"].IsObject()) {
    version = &info["version"];
  }
  if (resp.status != 200 || version == nullptr || !version->HasMember("number") ||
      !(*version)["number"].IsString()) {
    log_->warn("opensearch {}: GET / answered {} without a version: {}", resp.node, resp.status,
               Quote(resp.body));
    return;
  }
  const std::string number = (*version)["number"].GetString();
  const bool is_opensearch =
      version->HasMember("distribution") && (*version)["distribution"].IsString() &&
      std::string_view((*version)["distribution"].GetString()) == "opensearch";
  const int major = std::atoi(number.c_str());
  log_->info("opensearch {}: {} {}", resp.node, is_opensearch ? "OpenSearch" : "Elasticsearch",
             number);
  // _bulk without mapping types needs OpenSearch (any) or Elasticsearch 7+.
  if (!is_opensearch && major < 7) {
    log_->warn("opensearch {}: Elasticsearch {} needs document types; bulk requests may fail",
               resp.node, number);
  }
}

Status OpenSearchDestination::DeliverAll(std::span<const Document> docs,
                                         std::span<DeliveryResult> results, std::stop_token stop) {
  if (!cluster_checked_) CheckCluster(stop);
  encoder_.Encode(docs, results, encoded_);
  std::vector<uint32_t> pending;
  pending.reserve(docs.size());
  for (uint32_t i = 0; i < docs.size(); ++i) {
    if (encoded_.Lines(i).empty()) continue;  // refused by the encoder
    results[i].delivered = false;
    results[i].attempts = 0;
    pending.push_back(i);
  }
  const Clock::time_point deadline = Clock::now() + std::chrono::seconds(options_.retry_duration_s);
  size_t split_bytes = max_request_bytes_;
  int retry_round = 0;
  std::vector<HttpRequest> http;
  std::vector<HttpResponse> responses;
  while (!pending.empty()) {
    std::vector<BulkRequest> requests = PlanRequests(
        encoded_, pending, std::min(split_bytes, max_request_bytes_), options_.concurrency);
    BuildBodies(encoded_, options_.gzip, requests);
    http.clear();
    for (const BulkRequest& r : requests)
      http.push_back({"POST", kBulkPath, r.body, options_.gzip});
    responses.assign(requests.size(), HttpResponse());
    transport_->Send(http, responses, stop);
    if (stop.stop_requested()) return Status::Unavailable("delivery stopped");

    Round round;
    for (size_t k = 0; k < requests.size(); ++k)
      Settle(requests[k], responses[k], results, round);
    split_bytes = round.split_bytes;
    if (!round.retry.empty() && Clock::now() >= deadline) {
      // Out of time: these keep their last error and go to the backup.
      log_->warn("{}: {} documents still failing after {} s; sending them to the backup",
                 description(), round.retry.size(), options_.retry_duration_s);
      round.retry.clear();
    }
    if (!round.retry.empty() && !WaitToRetry(round.retry, results, retry_round++, deadline, stop)) {
      return Status::Unavailable("delivery stopped");
    }
    pending = std::move(round.retry);
    pending.insert(pending.end(), round.resend_now.begin(), round.resend_now.end());
    std::sort(pending.begin(), pending.end());  // document order keeps requests contiguous
  }
  return Status::Ok();
}

bool OpenSearchDestination::WaitToRetry(const std::vector<uint32_t>& retry,
                                        std::span<const DeliveryResult> results, int retry_round,
                                        Clock::time_point deadline, std::stop_token stop) {
  const DeliveryResult& example = results[retry.front()];
  const std::string why = example.error_code + ": " + example.error_message.substr(0, 200);
  if (retry_round == 0) {
    log_->warn("{}: {} documents failed ({}); retrying for up to {} s", description(), retry.size(),
               why, options_.retry_duration_s);
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    counters_.documents_retried += retry.size();
    retrying_ = std::to_string(retry.size()) + " documents, " + why;
  }
  // Never past the deadline: the last attempt starts within the retry duration.
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  const auto wait = std::min(backoff_.Next(retry_round), std::max(left, {}));
  log_->debug("{}: retrying {} documents in {} ms", description(), retry.size(), wait.count());
  return WaitUnlessStopped(stop, wait);
}

void OpenSearchDestination::Settle(const BulkRequest& req, const HttpResponse& resp,
                                   std::span<DeliveryResult> results, Round& round) {
  for (uint32_t i : req.docs)
    ++results[i].attempts;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++counters_.requests;
    counters_.bytes_sent += req.body.size();
  }
  auto retry_all = [&](std::string code, const std::string& message) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++counters_.request_failures;
    }
    log_->debug("opensearch {}: request of {} documents failed: {}", resp.node, req.docs.size(),
                message);
    for (uint32_t i : req.docs) {
      SetError(results[i], code, message);
      round.retry.push_back(i);
    }
  };

  if (resp.status == 0) {
    retry_all(resp.timed_out ? "OS.RequestTimeout" : "OS.ConnectionFailed",
              "POST " + resp.node + "/_bulk: " + resp.error);
    return;
  }
  const std::string http_error =
      "HTTP " + std::to_string(resp.status) + " from " + resp.node + "/_bulk: " + Quote(resp.body);
  switch (ClassifyRequest(resp.status)) {
    case RequestAction::kRetryAll:
      retry_all(std::to_string(resp.status), http_error);
      return;
    case RequestAction::kSplit:
      if (req.docs.size() == 1) {
        // The cluster refuses this one document as a request of its own: permanent.
        SetError(results[req.docs[0]], std::to_string(resp.status), http_error);
        std::lock_guard<std::mutex> lock(mu_);
        ++counters_.request_failures;
        ++by_status_[resp.status];
        return;
      }
      if (resp.status == 413) {
        max_request_bytes_ =
            std::max<size_t>(1, std::min(max_request_bytes_, req.ndjson_bytes / 2));
        log_->warn("opensearch {}: a {}-byte bulk request was too large; sending at most {} bytes",
                   resp.node, req.ndjson_bytes, max_request_bytes_);
      }
      round.split_bytes = std::min(round.split_bytes, std::max<size_t>(1, req.ndjson_bytes / 2));
      round.resend_now.insert(round.resend_now.end(), req.docs.begin(), req.docs.end());
      return;
    case RequestAction::kParseItems:
      break;
  }
  auto items = ParseBulkResponse(resp.body, req.docs.size());
  if (!items.ok()) {
    retry_all("OS.InvalidResponse", "POST " + resp.node + "/_bulk: " + items.status().message());
    return;
  }
  SettleItems(req, *items, results, round);
}

void OpenSearchDestination::SettleItems(const BulkRequest& req, const std::vector<BulkItem>& items,
                                        std::span<DeliveryResult> results, Round& round) {
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t k = 0; k < req.docs.size(); ++k) {
    const uint32_t i = req.docs[k];
    const BulkItem& item = items[k];
    ++by_status_[item.status];
    switch (ClassifyItem(item.status, encoded_.is_create(i))) {
      case ItemAction::kDelivered:
        results[i].delivered = true;
        results[i].error_code.clear();
        results[i].error_message.clear();
        break;
      case ItemAction::kRetry:
        SetError(results[i], std::to_string(item.status), item.error);
        round.retry.push_back(i);
        break;
      case ItemAction::kReject:
        SetError(results[i], std::to_string(item.status), item.error);
        break;
    }
  }
}

}  // namespace

Result<std::unique_ptr<Destination>> MakeOpenSearchDestination(
    const OpenSearchDestinationOptions& options, uint32_t max_document_depth) {
  TL_RETURN_IF_ERROR(ValidateOpenSearchDestination(options));
  auto transport = BulkTransport::Make(options);
  if (!transport.ok()) return transport.status();
  return std::unique_ptr<Destination>(
      std::make_unique<OpenSearchDestination>(options, std::move(*transport), max_document_depth));
}

}  // namespace tideline::pipeline
