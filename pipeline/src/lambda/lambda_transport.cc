#include "lambda/lambda_transport.h"

#include "core/pipeline_log.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <optional>
#include <stop_token>
#include <system_error>
#include <thread>

#include "common/curl.h"
#include "lambda/lambda_protocol.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)  // linux/close_range.h, Linux 5.11
#endif

namespace tideline::pipeline::lambda {
namespace {

using Clock = std::chrono::steady_clock;

std::string ErrnoText(int err) {
  return std::error_code(err, std::generic_category()).message();
}

std::string Ms(std::chrono::milliseconds ms) {
  return std::to_string(ms.count()) + " ms";
}

// ---- HTTP

struct BodySink {
  std::string body;
  bool too_large = false;
};

size_t AppendBody(char* data, size_t size, size_t count, void* user) {
  auto* sink = static_cast<BodySink*>(user);
  const size_t n = size * count;
  if (sink->body.size() + n > kMaxPayloadBytes) {
    sink->too_large = true;
    return 0;  // aborts the transfer
  }
  sink->body.append(data, n);
  return n;
}

// Firehose's code for a Lambda invocation refused with this HTTP status.
std::string_view CodeForHttpStatus(long status) {
  switch (status) {
    case 401:
    case 403:
      return kInvokeAccessDenied;
    case 404:
      return kResourceNotFound;
    case 429:
      return kInvokeLimitExceeded;
    default:
      return kFunctionError;
  }
}

// ---- Subprocess

// write(2) on a pipe whose reader is gone raises SIGPIPE, whose default action ends the whole
// process. Instead of ignoring SIGPIPE process-wide (a library should not change the process's
// dispositions), the signal is blocked in this thread for the write, and the one the write
// raised (thread-directed, so it is pending here) is consumed before unblocking; the write
// itself then fails with EPIPE. A SIGPIPE already pending before the write is left alone.
ssize_t WriteWithoutSigpipe(int fd, const iovec* iov, int count) {
  sigset_t sigpipe;
  sigemptyset(&sigpipe);
  sigaddset(&sigpipe, SIGPIPE);
  sigset_t old;
  pthread_sigmask(SIG_BLOCK, &sigpipe, &old);
  sigset_t pending;
  sigpending(&pending);
  const bool was_pending = sigismember(&pending, SIGPIPE) == 1;
  const ssize_t n = writev(fd, iov, count);
  const int err = errno;
  if (n < 0 && err == EPIPE && !was_pending) {
    const timespec zero{};
    while (sigtimedwait(&sigpipe, nullptr, &zero) < 0 && errno == EINTR) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  errno = err;
  return n;
}

void CloseFd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

}  // namespace

spdlog::logger& Log() {
  return *PipelineLogger();
}

InvokeOutcome InvokeOutcome::Failure(std::string_view code, std::string message) {
  InvokeOutcome o;
  o.error_code = code;
  o.error_message = std::move(message);
  return o;
}

// ---- HttpInvoker

struct HttpInvoker::Connection {
  CURL* curl = nullptr;
  char error[CURL_ERROR_SIZE] = {};
  ~Connection() {
    if (curl != nullptr) curl_easy_cleanup(curl);
  }
};

HttpInvoker::HttpInvoker(std::string url) : url_(std::move(url)) {
  EnsureCurlGlobalInit();
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip
  headers_ = headers;
}

HttpInvoker::~HttpInvoker() {
  idle_.clear();
  curl_slist_free_all(static_cast<curl_slist*>(headers_));
}

std::unique_ptr<HttpInvoker::Connection> HttpInvoker::Take() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_.empty()) {
      std::unique_ptr<Connection> c = std::move(idle_.back());
      idle_.pop_back();
      return c;
    }
  }
  auto c = std::make_unique<Connection>();
  c->curl = curl_easy_init();
  if (c->curl == nullptr) return c;
  curl_easy_setopt(c->curl, CURLOPT_URL, url_.c_str());
  curl_easy_setopt(c->curl, CURLOPT_POST, 1L);
  curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, static_cast<curl_slist*>(headers_));
  curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, &AppendBody);
  curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, c->error);
  curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);  // timeouts without SIGALRM: we are threaded
  curl_easy_setopt(c->curl, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(c->curl, CURLOPT_TCP_KEEPALIVE, 1L);
  UseCloexecSockets(c->curl);
  return c;
}

void HttpInvoker::Shutdown() {
  std::lock_guard<std::mutex> lock(mu_);
  idle_.clear();
}

void HttpInvoker::Return(std::unique_ptr<Connection> connection) {
  std::lock_guard<std::mutex> lock(mu_);
  idle_.push_back(std::move(connection));
}

InvokeOutcome HttpInvoker::Invoke(std::string_view request, std::chrono::milliseconds timeout,
                                  const AcceptResponse& accept) {
  std::unique_ptr<Connection> c = Take();
  if (c->curl == nullptr) return InvokeOutcome::Failure(kFunctionError, "curl_easy_init failed");
  BodySink sink;
  c->error[0] = '\0';
  curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, request.data());
  curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.size()));
  curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &sink);
  const CURLcode rc = curl_easy_perform(c->curl);
  long status = 0;
  curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
  const std::string detail = c->error[0] != '\0' ? c->error : curl_easy_strerror(rc);
  // The handle stays usable after any failure: libcurl closes a broken or timed-out connection
  // itself, and HTTP framing keeps a bad body from confusing the next exchange.
  Return(std::move(c));

  if (sink.too_large) {
    return InvokeOutcome::Failure(kFunctionError, "the response from " + url_ + " exceeds " +
                                                      std::to_string(kMaxPayloadBytes) + " bytes");
  }
  if (rc == CURLE_OPERATION_TIMEDOUT) {
    return InvokeOutcome::Failure(kFunctionError,
                                  "no response from " + url_ + " within " + Ms(timeout));
  }
  if (rc != CURLE_OK) {
    return InvokeOutcome::Failure(kFunctionError, "POST " + url_ + " failed: " + detail);
  }
  if (status < 200 || status > 299) {
    return InvokeOutcome::Failure(
        CodeForHttpStatus(status),
        "HTTP " + std::to_string(status) + " from " + url_ + ": " + sink.body.substr(0, 200));
  }
  if (Status s = accept(sink.body); !s.ok()) {
    return InvokeOutcome::Failure(kJsonProcessingException, s.message());
  }
  InvokeOutcome o;
  o.ok = true;
  return o;
}

// ---- ChildProcess

// One running transformer: our ends of its stdin and stdout pipes (non-blocking).
class ChildProcess {
 public:
  // Forks and execs; call it from a thread that outlives the child (see Spawner).
  static Result<std::unique_ptr<ChildProcess>> Spawn(const std::vector<std::string>& command,
                                                     const std::vector<std::string>& environment);
  ~ChildProcess() {
    CloseFd(stdin_);
    CloseFd(stdout_);
    Reap();
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Writes `request` and a newline, then reads one line (without its newline) into
  // `response`, all before `deadline`.
  InvokeOutcome Exchange(std::string_view request, Clock::time_point deadline,
                         std::chrono::milliseconds timeout, std::string* response);

  // False when the child wrote something unasked or closed its stdout (it is exiting): it
  // cannot serve another request.
  bool Idle() const {
    pollfd fd = {stdout_, POLLIN, 0};
    return ::poll(&fd, 1, 0) == 0;
  }

  // Closes stdin (a well-behaved transformer exits on EOF), waits at most `grace` for its
  // stdout to close, then kills and reaps it.
  void Close(std::chrono::milliseconds grace);

 private:
  ChildProcess(pid_t pid, int in, int out) : pid_(pid), stdin_(in), stdout_(out) {}

  // Kills (harmless if it already exited) and reaps the child; says how it ended.
  std::string Reap();

  InvokeOutcome Fail(std::string message) {
    return InvokeOutcome::Failure(kFunctionError, std::move(message));
  }

  pid_t pid_;
  int stdin_;
  int stdout_;
};

namespace {

// `program` itself when it contains a '/', else the first executable PATH entry of that name
// (tideline's PATH, as execvp would use); "" when there is none.
std::string ResolveProgram(const std::string& program) {
  auto executable_file = [](const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
           ::access(path.c_str(), X_OK) == 0;
  };
  if (program.empty()) return {};
  if (program.find('/') != std::string::npos) return executable_file(program) ? program : "";
  const char* path = std::getenv("PATH");
  std::string_view dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  while (true) {
    const size_t colon = dirs.find(':');
    const std::string_view dir = dirs.substr(0, colon);
    std::string candidate = (dir.empty() ? std::string(".") : std::string(dir)) + "/" + program;
    if (executable_file(candidate)) return candidate;
    if (colon == std::string_view::npos) return {};
    dirs.remove_prefix(colon + 1);
  }
}

// In the forked child: reports errno on the error pipe and exits. Async-signal-safe.
[[noreturn]] void ChildFail(int error_fd, int err) {
  ssize_t ignored = ::write(error_fd, &err, sizeof(err));  // the parent reads EOF otherwise
  (void)ignored;
  ::_exit(127);
}

}  // namespace

Result<std::unique_ptr<ChildProcess>> ChildProcess::Spawn(
    const std::vector<std::string>& command, const std::vector<std::string>& environment) {
  const std::string program = ResolveProgram(command[0]);
  if (program.empty()) {
    return Status::Unavailable("cannot start " + command[0] + ": no such executable in PATH");
  }
  // O_CLOEXEC: a child spawned concurrently elsewhere must not hold our pipe ends open, or EOF
  // would never come. dup2 onto 0 and 1 clears the flag for the transformer itself. The third
  // pipe reports an exec failure (errno); it closes at exec, so EOF means the exec worked.
  int to_child[2];
  int from_child[2];
  int exec_error[2];
  if (pipe2(to_child, O_CLOEXEC) != 0) return Status::IOError("pipe: " + ErrnoText(errno));
  if (pipe2(from_child, O_CLOEXEC) != 0) {
    const int err = errno;
    ::close(to_child[0]);
    ::close(to_child[1]);
    return Status::IOError("pipe: " + ErrnoText(err));
  }
  if (pipe2(exec_error, O_CLOEXEC) != 0) {
    const int err = errno;
    for (int fd : {to_child[0], to_child[1], from_child[0], from_child[1]})
      ::close(fd);
    return Status::IOError("pipe: " + ErrnoText(err));
  }
  // Everything the child needs is prepared here: after fork it may only make
  // async-signal-safe calls (no allocation: another thread may have held malloc's lock).
  std::vector<char*> argv;
  argv.reserve(command.size() + 1);
  for (const std::string& arg : command)
    argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  envp.reserve(environment.size() + 1);
  for (const std::string& var : environment)
    envp.push_back(const_cast<char*>(var.c_str()));
  envp.push_back(nullptr);
  rlimit files{};
  const int max_fd = ::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur != RLIM_INFINITY
                         ? static_cast<int>(std::min<rlim_t>(files.rlim_cur, 1 << 20))
                         : 1 << 16;
  sigset_t none;
  sigemptyset(&none);
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  const pid_t parent = ::getpid();

  const pid_t pid = ::fork();
  if (pid == 0) {
    // Killed when the thread that forked us ends (the Spawner's, which lives as long as the
    // invoker) or the whole process dies, even by SIGKILL. If the parent died before prctl
    // took effect, we were re-parented already: getppid() tells.
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) ChildFail(exec_error[1], errno);
    if (::getppid() != parent) ::_exit(127);
    if (::dup2(to_child[0], STDIN_FILENO) < 0 || ::dup2(from_child[1], STDOUT_FILENO) < 0) {
      ChildFail(exec_error[1], errno);
    }
    // Only 0, 1 and 2 survive the exec. What the pipeline opens is O_CLOEXEC already; this
    // covers descriptors other modules and libraries opened without it (server sockets, ...).
    if (::syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
      for (int fd = 3; fd < max_fd; ++fd)
        ::fcntl(fd, F_SETFD, FD_CLOEXEC);  // EBADF for most: fine
    }
    // The child starts with no blocked signals (we may be inside WriteWithoutSigpipe's mask in
    // another thread, and masks are inherited) and with SIGPIPE at its default action.
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::sigaction(SIGPIPE, &default_action, nullptr);
    ::execve(program.c_str(), argv.data(), envp.data());
    ChildFail(exec_error[1], errno);
  }
  const int fork_errno = errno;
  ::close(to_child[0]);
  ::close(from_child[1]);
  ::close(exec_error[1]);
  int exec_errno = 0;
  ssize_t n = 0;
  if (pid > 0) {
    do {
      n = ::read(exec_error[0], &exec_errno, sizeof(exec_errno));
    } while (n < 0 && errno == EINTR);
  }
  ::close(exec_error[0]);
  if (pid < 0 || n > 0) {
    ::close(to_child[1]);
    ::close(from_child[0]);
    if (pid > 0) {
      int status = 0;
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
    }
    return Status::Unavailable("cannot start " + command[0] + ": " +
                               ErrnoText(pid < 0 ? fork_errno : exec_errno));
  }
  fcntl(to_child[1], F_SETFL, O_NONBLOCK);
  fcntl(from_child[0], F_SETFL, O_NONBLOCK);
  Log().debug("lambda: started transformer {} (pid {})", command[0], pid);
  return std::unique_ptr<ChildProcess>(new ChildProcess(pid, to_child[1], from_child[0]));
}

// Forks every child of a ProcessInvoker from one thread of its own. PR_SET_PDEATHSIG fires
// when the *thread* that forked a child ends, not only the process: forked from a shard
// reader, a child would be killed whenever that reader stops (a Reset restarts the readers)
// although another reader may be using it. This thread lives as long as the invoker.
//
// Thread safety: Spawn may be called from any thread; calls are served one at a time.
class Spawner {
 public:
  Spawner() : thread_([this](std::stop_token stop) { Run(stop); }) {}

  Result<std::unique_ptr<ChildProcess>> Spawn(const std::vector<std::string>& command,
                                              const std::vector<std::string>& environment) {
    std::lock_guard<std::mutex> one_at_a_time(call_mu_);
    std::unique_lock<std::mutex> lock(mu_);
    job_ = [&] { return ChildProcess::Spawn(command, environment); };
    result_.reset();
    changed_.notify_all();
    changed_.wait(lock, [&] { return result_.has_value(); });
    Result<std::unique_ptr<ChildProcess>> out = std::move(*result_);
    result_.reset();
    return out;
  }

 private:
  void Run(std::stop_token stop) {
    std::unique_lock<std::mutex> lock(mu_);
    while (changed_.wait(lock, stop, [&] { return job_ != nullptr; })) {
      auto job = std::move(job_);
      job_ = nullptr;
      lock.unlock();
      auto spawned = job();
      lock.lock();
      result_.emplace(std::move(spawned));
      changed_.notify_all();
    }
  }

  std::mutex call_mu_;  // held by the one Spawn call being served
  std::mutex mu_;
  std::condition_variable_any changed_;
  std::function<Result<std::unique_ptr<ChildProcess>>()> job_;   // GUARDED_BY(mu_)
  std::optional<Result<std::unique_ptr<ChildProcess>>> result_;  // GUARDED_BY(mu_)
  std::jthread thread_;  // last: starts once the members above exist
};

InvokeOutcome ChildProcess::Exchange(std::string_view request, Clock::time_point deadline,
                                     std::chrono::milliseconds timeout, std::string* response) {
  static constexpr char kNewline = '\n';
  const size_t total = request.size() + 1;
  size_t written = 0;
  std::string line;
  char buf[64 << 10];
  while (true) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0)
      return Fail("no response within " + Ms(timeout) + "; the transformer was killed");
    pollfd fds[2] = {{stdout_, POLLIN, 0}, {stdin_, POLLOUT, 0}};
    const int nfds = written < total ? 2 : 1;
    const int ready = ::poll(fds, nfds, static_cast<int>(std::min<int64_t>(left, 60'000)));
    if (ready < 0) {
      if (errno == EINTR) continue;
      return Fail("poll: " + ErrnoText(errno));
    }
    if (nfds == 2 && fds[1].revents != 0) {
      iovec iov[2];
      int count = 0;
      if (written < request.size()) {
        iov[count++] = {const_cast<char*>(request.data()) + written, request.size() - written};
      }
      iov[count++] = {const_cast<char*>(&kNewline), 1};
      const ssize_t n = WriteWithoutSigpipe(stdin_, iov, count);
      if (n >= 0) {
        written += static_cast<size_t>(n);
      } else if (errno != EAGAIN && errno != EINTR) {
        const int err = errno;
        return Fail("cannot write to the transformer (" + ErrnoText(err) + "); it " + Reap());
      }
    }
    if (fds[0].revents == 0) continue;
    const ssize_t n = ::read(stdout_, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return Fail("cannot read from the transformer: " + ErrnoText(errno));
    }
    if (n == 0) return Fail("the transformer " + Reap() + " without answering");
    const size_t scanned = line.size();
    line.append(buf, static_cast<size_t>(n));
    const size_t end = line.find('\n', scanned);
    if (end == std::string::npos) {
      if (line.size() > kMaxPayloadBytes) {
        return Fail("the transformer's response line exceeds " + std::to_string(kMaxPayloadBytes) +
                    " bytes");
      }
      continue;
    }
    if (written < total) return Fail("the transformer answered before reading the request");
    if (end + 1 != line.size()) return Fail("the transformer wrote more than one line");
    line.resize(end);
    *response = std::move(line);
    InvokeOutcome o;
    o.ok = true;
    return o;
  }
}

void ChildProcess::Close(std::chrono::milliseconds grace) {
  CloseFd(stdin_);
  const Clock::time_point deadline = Clock::now() + grace;
  char buf[4096];
  while (stdout_ >= 0) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) break;
    pollfd fd = {stdout_, POLLIN, 0};
    const int ready = ::poll(&fd, 1, static_cast<int>(left));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) break;
    const ssize_t n = ::read(stdout_, buf, sizeof(buf));  // unsolicited output is discarded
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) break;
  }
  CloseFd(stdout_);
  Reap();
}

std::string ChildProcess::Reap() {
  if (pid_ <= 0) return "had already ended";
  ::kill(pid_, SIGKILL);
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &status, 0);
  } while (r < 0 && errno == EINTR);
  const pid_t pid = pid_;
  pid_ = -1;
  if (r < 0) return "ended (pid " + std::to_string(pid) + ", waitpid: " + ErrnoText(errno) + ")";
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "was killed by signal " + std::to_string(WTERMSIG(status));
  return "ended";
}

// ---- ProcessInvoker

std::vector<std::string> ChildEnvironment(
    const std::vector<std::pair<std::string, std::string>>& set,
    const std::vector<std::string>& inherit) {
  std::vector<std::pair<std::string, std::string>> vars;
  auto put = [&](const std::string& name, std::string value) {
    for (auto& [n, v] : vars) {
      if (n == name) {
        v = std::move(value);
        return;
      }
    }
    vars.emplace_back(name, std::move(value));
  };
  put("PATH", "/usr/local/bin:/usr/bin:/bin");
  for (const char* name : {"PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR"}) {
    if (const char* v = std::getenv(name)) put(name, v);
  }
  for (const std::string& name : inherit) {
    // Validation refuses it too; this is the place that must never let it through.
    if (name == "TIDELINE_OPENSEARCH_PASSWORD") continue;
    if (const char* v = std::getenv(name.c_str())) put(name, v);
  }
  for (const auto& [name, value] : set)
    put(name, value);
  std::vector<std::string> out;
  out.reserve(vars.size());
  for (const auto& [name, value] : vars)
    out.push_back(name + "=" + value);
  return out;
}

ProcessInvoker::ProcessInvoker(std::vector<std::string> command,
                               std::vector<std::string> environment)
    : command_(std::move(command)),
      environment_(std::move(environment)),
      spawner_(std::make_unique<Spawner>()) {}

ProcessInvoker::~ProcessInvoker() {
  Shutdown();
}

void ProcessInvoker::Shutdown() {
  std::vector<std::unique_ptr<ChildProcess>> idle;
  {
    std::lock_guard<std::mutex> lock(mu_);
    idle.swap(idle_);
  }
  for (auto& child : idle)
    child->Close(std::chrono::milliseconds(500));
}

InvokeOutcome ProcessInvoker::Invoke(std::string_view request, std::chrono::milliseconds timeout,
                                     const AcceptResponse& accept) {
  const Clock::time_point deadline = Clock::now() + timeout;
  std::unique_ptr<ChildProcess> child;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_.empty()) {
      child = std::move(idle_.back());
      idle_.pop_back();
    }
  }
  if (child != nullptr && !child->Idle()) child.reset();  // killed and reaped
  if (child == nullptr) {
    Result<std::unique_ptr<ChildProcess>> spawned = spawner_->Spawn(command_, environment_);
    if (!spawned.ok()) return InvokeOutcome::Failure(kFunctionError, spawned.status().message());
    child = std::move(spawned.value());
  }
  std::string response;
  InvokeOutcome outcome = child->Exchange(request, deadline, timeout, &response);
  if (outcome.ok) {
    if (Status s = accept(response); !s.ok()) {
      outcome = InvokeOutcome::Failure(kJsonProcessingException, s.message());
    }
  }
  if (outcome.ok) {
    std::lock_guard<std::mutex> lock(mu_);
    idle_.push_back(std::move(child));
  }
  // Otherwise the child goes out of scope here: killed and reaped.
  return outcome;
}

bool IsExecutable(const std::string& program) {
  return !ResolveProgram(program).empty();
}

}  // namespace tideline::pipeline::lambda
