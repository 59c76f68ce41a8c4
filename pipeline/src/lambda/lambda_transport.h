// How a Lambda request reaches the transformer and its response comes back: an HTTP POST
// (HttpInvoker) or one line on a long-lived subprocess's stdin/stdout (ProcessInvoker, framing
// in pipeline/LAMBDA.md). An invoker only moves bytes; the caller parses (the accept callback)
// and retries.
//
// Thread safety: Invoke may run concurrently. Each invoker keeps a pool of idle libcurl handles
// or children (guarded by its mutex) and takes one per call, so concurrent calls never share
// one. A handle goes back after every call (libcurl closes a broken connection itself); a child
// goes back only after a call it served correctly.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace spdlog {
class logger;
}

namespace tideline::pipeline::lambda {

// The pipeline module's logger ("pipeline"), shared with the other processors by name.
spdlog::logger& Log();

// The result of one invocation attempt.
struct InvokeOutcome {
  bool ok = false;
  // Why the attempt failed, when !ok: a Firehose error code (lambda_protocol.h) and what
  // happened, e.g. "HTTP 503 from http://...: ..." or "no response within 200 ms".
  std::string error_code;
  std::string error_message;

  static InvokeOutcome Failure(std::string_view code, std::string message);
};

// Takes a response body; an error means it is not a usable response.
using AcceptResponse = std::function<Status(std::string_view body)>;

class Invoker {
 public:
  virtual ~Invoker() = default;
  // Sends one request (one line of JSON), waits at most `timeout` for the whole response (at
  // most kMaxPayloadBytes) and hands it to `accept`. When `accept` rejects it, the attempt fails
  // with Lambda.JsonProcessingException (and a subprocess that wrote it is replaced).
  virtual InvokeOutcome Invoke(std::string_view request, std::chrono::milliseconds timeout,
                               const AcceptResponse& accept) = 0;
  // Closes what is idle (connections, children) once no Invoke runs; a later Invoke opens anew.
  virtual void Shutdown() {}
};

// POSTs the request to `url` with Content-Type application/json. A 2xx response's body is the
// response; any other status (401/403, 404 and 429 get Firehose's codes for an invocation
// refused for access, a missing function and throttling), a transport error or a timeout
// (Lambda.FunctionError) fails the attempt. Connections are
// kept alive between calls (one libcurl easy handle per concurrent caller, pooled).
class HttpInvoker final : public Invoker {
 public:
  explicit HttpInvoker(std::string url);
  ~HttpInvoker() override;
  HttpInvoker(const HttpInvoker&) = delete;
  HttpInvoker& operator=(const HttpInvoker&) = delete;

  InvokeOutcome Invoke(std::string_view request, std::chrono::milliseconds timeout,
                       const AcceptResponse& accept) override;
  void Shutdown() override;

 private:
  struct Connection;  // a libcurl easy handle and its error buffer
  std::unique_ptr<Connection> Take();
  void Return(std::unique_ptr<Connection> connection);

  const std::string url_;
  void* headers_ = nullptr;  // curl_slist*, immutable after construction
  std::mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_;  // GUARDED_BY(mu_)
};

class ChildProcess;
class Spawner;

// The environment of a subprocess transformer, as "NAME=value" strings: PATH (tideline's, or
// /usr/local/bin:/usr/bin:/bin), HOME, LANG, LC_ALL, TZ and TMPDIR as tideline has them, the
// variables named in `inherit` that tideline has, then `set` (later entries win). Nothing
// else of tideline's environment, so no secret it was given (TIDELINE_OPENSEARCH_PASSWORD)
// reaches the transformer.
std::vector<std::string> ChildEnvironment(
    const std::vector<std::pair<std::string, std::string>>& set,
    const std::vector<std::string>& inherit);

// Runs `command` (argv form, searched in PATH, no shell) and speaks the line framing with it.
// Children start on demand and live across calls; one that fails a call in any way (exits,
// times out, writes something that is not one line) is killed and reaped, and the next call
// starts a fresh one. Their stderr is tideline's stderr.
//
// A child gets `environment` and nothing of tideline's but its stdin, stdout and stderr: every
// other descriptor is closed at exec (the pipeline opens its own with O_CLOEXEC; the child
// marks any other module's close-on-exec before exec too). It is killed (SIGKILL) when the
// process that started it dies, however that happens (PR_SET_PDEATHSIG), and Shutdown or the
// destructor closes every idle child's stdin, gives it a moment to exit, then kills and reaps
// it.
class ProcessInvoker final : public Invoker {
 public:
  ProcessInvoker(std::vector<std::string> command, std::vector<std::string> environment);
  ~ProcessInvoker() override;
  ProcessInvoker(const ProcessInvoker&) = delete;
  ProcessInvoker& operator=(const ProcessInvoker&) = delete;

  InvokeOutcome Invoke(std::string_view request, std::chrono::milliseconds timeout,
                       const AcceptResponse& accept) override;
  void Shutdown() override;

 private:
  const std::vector<std::string> command_;
  const std::vector<std::string> environment_;
  std::mutex mu_;
  std::vector<std::unique_ptr<ChildProcess>> idle_;  // GUARDED_BY(mu_)
  // Forks every child (see Spawner in lambda_transport.cc). Declared last, so destroyed first,
  // after the destructor has closed the idle children.
  std::unique_ptr<Spawner> spawner_;
};

// Whether `program` names an executable file: a path containing '/', or a name found in PATH.
bool IsExecutable(const std::string& program);

}  // namespace tideline::pipeline::lambda
