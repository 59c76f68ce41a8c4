#include "cli/kinesis_client.h"

#include <curl/curl.h>
#include <rapidjson/error/en.h>

#include <chrono>
#include <thread>

#include "common/curl.h"
#include "common/json_parse.h"

namespace tideline::cli {
namespace {

size_t AppendBody(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

CURL* Handle(void* p) {
  return static_cast<CURL*>(p);
}

bool IsRetryableType(std::string_view type) {
  return type == "ProvisionedThroughputExceededException" || type == "LimitExceededException" ||
         type == "InternalFailure" || type == "ServiceUnavailable" || type == "ThrottlingException";
}

}  // namespace

HttpClient::HttpClient(std::string base_url) : base_url_(std::move(base_url)) {
  while (!base_url_.empty() && base_url_.back() == '/')
    base_url_.pop_back();
  EnsureCurlGlobalInit();
  curl_ = curl_easy_init();
  if (curl_ != nullptr) UseCloexecSockets(Handle(curl_));
}

HttpClient::~HttpClient() {
  if (curl_ != nullptr) curl_easy_cleanup(Handle(curl_));
}

Result<HttpResponse> HttpClient::Perform(std::string_view path) {
  CURL* c = Handle(curl_);
  HttpResponse response;
  const std::string url = base_url_ + std::string(path);
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &AppendBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &response.body);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 120000L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
  const CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) {
    return Status::Unavailable(
        "cannot reach " + base_url_ + ": " + curl_easy_strerror(rc) +
        (rc == CURLE_COULDNT_CONNECT ? " (is `tideline serve` running?)" : ""));
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response.status);
  return response;
}

Result<HttpResponse> HttpClient::Post(std::string_view path, std::string_view content_type,
                                      std::string_view extra_header, const std::string& body) {
  if (curl_ == nullptr) return Status::Internal("curl_easy_init failed");
  CURL* c = Handle(curl_);
  curl_slist* headers = nullptr;
  const std::string ct = "Content-Type: " + std::string(content_type);
  headers = curl_slist_append(headers, ct.c_str());
  if (!extra_header.empty())
    headers = curl_slist_append(headers, std::string(extra_header).c_str());
  headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip
  curl_easy_setopt(c, CURLOPT_HTTPGET, 0L);
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  Result<HttpResponse> result = Perform(path);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, nullptr);
  curl_slist_free_all(headers);
  return result;
}

Result<HttpResponse> HttpClient::Get(std::string_view path) {
  if (curl_ == nullptr) return Status::Internal("curl_easy_init failed");
  curl_easy_setopt(Handle(curl_), CURLOPT_HTTPGET, 1L);
  return Perform(path);
}

Status ErrorStatus(const HttpResponse& response) {
  ApiError error;
  rapidjson::Document doc;
  if (!json::ParseJson(doc, response.body, json::kPeerResponseLimits) && doc.IsObject()) {
    if (auto it = doc.FindMember("__type"); it != doc.MemberEnd() && it->value.IsString()) {
      error.type = it->value.GetString();
      // Some services send "namespace#Type".
      if (const size_t hash = error.type.rfind('#'); hash != std::string::npos) {
        error.type = error.type.substr(hash + 1);
      }
    }
    for (const char* key : {"message", "Message"}) {
      if (auto it = doc.FindMember(key); it != doc.MemberEnd() && it->value.IsString()) {
        error.message = it->value.GetString();
      }
    }
  }
  if (error.type.empty()) error.type = "HTTP " + std::to_string(response.status);
  if (error.message.empty()) error.message = response.body.substr(0, 200);
  const bool retryable = response.status >= 500 || IsRetryableType(error.type);
  StatusCode code = StatusCode::kInvalidArgument;
  if (error.type == "ResourceNotFoundException") code = StatusCode::kNotFound;
  if (error.type == "ResourceInUseException") code = StatusCode::kResourceInUse;
  if (retryable) code = StatusCode::kUnavailable;
  return Status(code, error.type + ": " + error.message, retryable);
}

KinesisClient::KinesisClient(std::string endpoint) : http_(std::move(endpoint)) {}

Result<rapidjson::Document> KinesisClient::Call(std::string_view operation,
                                                const std::string& request) {
  const std::string target = "X-Amz-Target: Kinesis_20131202." + std::string(operation);
  Result<HttpResponse> response = http_.Post("/", "application/x-amz-json-1.1", target, request);
  if (!response.ok()) return response.status();
  if (response->status != 200) return ErrorStatus(*response);
  rapidjson::Document doc;
  auto error = json::ParseJson(doc, response->body, json::kPeerResponseLimits);
  if (error || !doc.IsObject()) {
    return Status::Internal(std::string(operation) + ": the server sent a response that is not " +
                            "a JSON object: " + error.value_or("another JSON value"));
  }
  return doc;
}

Result<rapidjson::Document> KinesisClient::CallWithRetry(std::string_view operation,
                                                         const std::string& request, int attempts) {
  std::chrono::milliseconds backoff{100};
  for (int attempt = 1;; ++attempt) {
    Result<rapidjson::Document> result = Call(operation, request);
    if (result.ok() || !result.status().retryable() || attempt >= attempts) return result;
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
  }
}

}  // namespace tideline::cli
