#include "cli/kinesis_client.h"

#include <curl/curl.h>
#include <rapidjson/error/en.h>

#include <chrono>
#include <ctime>
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

HttpClient::HttpClient(std::string base_url, ClientAuth auth)
    : base_url_(std::move(base_url)), auth_(std::move(auth)) {
  while (!base_url_.empty() && base_url_.back() == '/')
    base_url_.pop_back();
  const size_t scheme = base_url_.find("://");
  const size_t host_start = scheme == std::string::npos ? 0 : scheme + 3;
  const size_t slash = base_url_.find('/', host_start);
  host_ = base_url_.substr(host_start,
                           slash == std::string::npos ? std::string::npos : slash - host_start);
  if (const size_t at = host_.rfind('@'); at != std::string::npos) host_ = host_.substr(at + 1);
  if (slash != std::string::npos) base_path_ = base_url_.substr(slash);
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
  if (!auth_.ca_bundle.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, auth_.ca_bundle.c_str());
  const CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) {
    return Status::Unavailable(
        "cannot reach " + base_url_ + ": " + curl_easy_strerror(rc) +
        (rc == CURLE_COULDNT_CONNECT ? " (is `tideline serve` running?)" : ""));
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response.status);
  return response;
}

std::vector<std::string> HttpClient::SignatureHeaders(std::string_view method,
                                                      std::string_view path,
                                                      const std::vector<auth::Header>& headers,
                                                      std::string_view body) const {
  std::vector<std::string> out;
  if (!auth_.credentials) return out;
  const std::string target = base_path_ + std::string(path);
  auth::SignRequest req;
  req.method = method;
  req.target = target;
  req.headers = headers;
  req.headers.push_back({"Host", host_});
  req.body = body;
  req.region = auth_.region;
  req.service = "kinesis";
  req.epoch_seconds = static_cast<int64_t>(std::time(nullptr));
  out.push_back("Host: " + host_);
  for (const auto& [name, value] : auth::SignHeaders(req, *auth_.credentials))
    out.push_back(name + ": " + value);
  return out;
}

Result<HttpResponse> HttpClient::Post(std::string_view path, std::string_view content_type,
                                      std::string_view extra_header, const std::string& body) {
  if (curl_ == nullptr) return Status::Internal("curl_easy_init failed");
  CURL* c = Handle(curl_);
  curl_slist* headers = nullptr;
  const std::string ct = "Content-Type: " + std::string(content_type);
  headers = curl_slist_append(headers, ct.c_str());
  std::vector<auth::Header> to_sign = {{"Content-Type", content_type}};
  if (!extra_header.empty()) {
    headers = curl_slist_append(headers, std::string(extra_header).c_str());
    const size_t colon = extra_header.find(':');
    std::string_view value = extra_header.substr(colon + 1);
    while (!value.empty() && value.front() == ' ')
      value.remove_prefix(1);
    to_sign.push_back({extra_header.substr(0, colon), value});
  }
  for (const std::string& h : SignatureHeaders("POST", path, to_sign, body))
    headers = curl_slist_append(headers, h.c_str());
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
  CURL* c = Handle(curl_);
  curl_slist* headers = nullptr;
  for (const std::string& h : SignatureHeaders("GET", path, {}, ""))
    headers = curl_slist_append(headers, h.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  Result<HttpResponse> result = Perform(path);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, nullptr);
  curl_slist_free_all(headers);
  return result;
}

Status ErrorStatus(const HttpResponse& response) {
  ApiError error;
  rapidjson::Document doc;
  if (!json::ParseJson(doc, response.body, json::kPeerResponseLimits) && doc.IsObject()) {
    const rapidjson::Value& object = doc;
    if (auto it = object.FindMember("__type"); it != object.MemberEnd() && it->value.IsString()) {
      error.type = it->value.GetString();
      // Some services send "namespace#Type".
      if (const size_t hash = error.type.rfind('#'); hash != std::string::npos) {
        error.type = error.type.substr(hash + 1);
      }
    }
    for (const char* key : {"message", "Message"}) {
      if (auto it = object.FindMember(key); it != object.MemberEnd() && it->value.IsString()) {
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

KinesisClient::KinesisClient(std::string endpoint, ClientAuth auth)
    : http_(std::move(endpoint), std::move(auth)) {}

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
