// A small Kinesis Data Streams JSON 1.1 client over libcurl, for the CLI's client commands.
//
// One client owns one curl easy handle, so consecutive calls reuse the keep-alive connection.
// Not thread-safe: use one client per thread.
#pragma once

#include <rapidjson/document.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cli/aws_credentials.h"
#include "common/status.h"

namespace tideline::cli {

struct HttpResponse {
  long status = 0;
  std::string body;
};

class HttpClient {
 public:
  // `base_url` like "http://127.0.0.1:4567" or "https://host:4567" (a path is allowed). With
  // `auth.credentials`, every request is signed with SigV4 (service kinesis, auth.region).
  explicit HttpClient(std::string base_url, ClientAuth auth = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Unavailable (retryable) when the server could not be reached or the transfer failed.
  Result<HttpResponse> Post(std::string_view path, std::string_view content_type,
                            std::string_view extra_header, const std::string& body);
  Result<HttpResponse> Get(std::string_view path);

  const std::string& base_url() const { return base_url_; }

 private:
  Result<HttpResponse> Perform(std::string_view path);
  // The signing headers for a request to `path` ("Name: value" lines), none when unsigned.
  std::vector<std::string> SignatureHeaders(std::string_view method, std::string_view path,
                                            const std::vector<auth::Header>& headers,
                                            std::string_view body) const;

  std::string base_url_;
  std::string host_;       // as sent in Host (and signed)
  std::string base_path_;  // the base URL's path, "" for none
  ClientAuth auth_;
  void* curl_ = nullptr;  // CURL*
};

// A Kinesis API error as the server reported it, e.g. type "ResourceNotFoundException".
struct ApiError {
  std::string type;
  std::string message;
};

// Maps an error response to a Status whose message reads "Type: message" (the form the CLI
// prints). 500s, throttling and transport failures are retryable.
Status ErrorStatus(const HttpResponse& response);

class KinesisClient {
 public:
  explicit KinesisClient(std::string endpoint, ClientAuth auth = {});

  // Calls `operation` (e.g. "PutRecords") with a JSON request body and returns the parsed
  // response. Errors come back as a Status from ErrorStatus.
  Result<rapidjson::Document> Call(std::string_view operation, const std::string& request);

  // Call() retried with exponential backoff while the error is retryable, at most `attempts`.
  Result<rapidjson::Document> CallWithRetry(std::string_view operation, const std::string& request,
                                            int attempts = 5);

  const std::string& endpoint() const { return http_.base_url(); }

 private:
  HttpClient http_;
};

}  // namespace tideline::cli
