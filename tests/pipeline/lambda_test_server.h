// A fake transformation Lambda: an in-process HTTP/1.1 server on 127.0.0.1 (an ephemeral port)
// whose handler each test sets, and which records every request it reads (before the handler
// runs, so a request the handler stalls on still counts); plus helpers for handlers to read
// Firehose requests and write responses.
//
// Threads: one accepts, one per connection serves (keep-alive), so a stalled handler does not
// hold up a client's next connection. The destructor wakes stalled handlers, closes every
// connection and joins every thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace tideline::pipeline::lambda_test {

struct HttpRequest {
  std::string method;
  std::string target;
  std::string content_type;
  std::string body;
};

struct HttpResponse {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
};

class LambdaTestServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;

  LambdaTestServer();
  ~LambdaTestServer();
  LambdaTestServer(const LambdaTestServer&) = delete;
  LambdaTestServer& operator=(const LambdaTestServer&) = delete;

  // Replaces the handler; requests already in a handler finish with the old one.
  // Default: 500 with an empty body.
  void SetHandler(Handler handler);

  std::string url() const;  // "http://127.0.0.1:<port>/"
  uint16_t port() const { return port_; }

  std::vector<HttpRequest> requests() const;
  size_t request_count() const;
  size_t connection_count() const;

  // Waits until at least `n` requests were read, or `max` passed. Returns whether they were.
  bool WaitForRequests(size_t n, std::chrono::milliseconds max) const;

  // For handlers playing a slow Lambda: returns when the server shuts down, or after `max`.
  void Stall(std::chrono::milliseconds max) const;

 private:
  struct Impl;

  void AcceptLoop();
  void Serve(int index);

  std::unique_ptr<Impl> impl_;
  uint16_t port_ = 0;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;  // requests_ grew, or stopping_
  Handler handler_;                     // GUARDED_BY(mu_)
  std::vector<HttpRequest> requests_;   // GUARDED_BY(mu_)
  size_t connections_ = 0;              // GUARDED_BY(mu_)
  bool stopping_ = false;               // GUARDED_BY(mu_)
  std::thread acceptor_thread_;
  std::vector<std::thread> session_threads_;  // GUARDED_BY(mu_)
};

// ---- Reading requests and writing responses

struct SentRecord {
  std::string id;
  std::string data;  // decoded
};

// The records of a Firehose request; empty when the body is not one.
std::vector<SentRecord> RecordsOf(std::string_view request_body);

// One entry of a response; `data` is base64-encoded when present.
struct Entry {
  std::string id;
  std::string result = "Ok";
  std::optional<std::string> data;
};

std::string ResponseJson(const std::vector<Entry>& entries);

// A handler answering every record of a request with `f(record)`.
LambdaTestServer::Handler Transform(std::function<Entry(const SentRecord&)> f);

// Ok, with the data upper-cased.
Entry Upper(const SentRecord& r);

}  // namespace tideline::pipeline::lambda_test
