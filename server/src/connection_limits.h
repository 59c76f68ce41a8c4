// What bounds the server's resources against hostile or merely numerous clients: open
// connections (ConnectionGate), request bytes held in memory (InflightBudget), and the counters
// /metrics reports about both. One Limits object is shared (shared_ptr) by the listener and every
// session, because sessions can outlive the server's other members while the io_context that
// owns their handlers is destroyed.
//
// Thread safety: every member function may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

namespace tideline::server {

// Counts open connections against `max` full slots plus `overflow` slots. A connection that gets
// an overflow slot may only ask for GET /health or /metrics (then it is closed), so operators can
// still look at a server whose clients took every full slot. When both are taken the listener
// stops accepting (the kernel's backlog holds new connections) until a connection closes.
class ConnectionGate {
 public:
  enum class Slot { kFull, kOverflow };

  ConnectionGate(size_t max, size_t overflow) : max_(max), overflow_max_(overflow) {}

  // True when a connection can be admitted now. Otherwise `wake` is stored and called once (from
  // the thread that releases a slot) when one frees; false. Not called after Shutdown().
  bool WaitForRoom(std::function<void()> wake);
  // Takes a slot; only after WaitForRoom returned true (one accepting thread).
  Slot Admit();
  void Release(Slot slot);
  // Drops a stored wake-up and refuses new ones: the listener is going away.
  void Shutdown();

  size_t max() const { return max_; }
  size_t open() const;

 private:
  const size_t max_;
  const size_t overflow_max_;
  mutable std::mutex mu_;
  size_t full_ = 0;             // GUARDED_BY(mu_)
  size_t overflow_ = 0;         // GUARDED_BY(mu_)
  std::function<void()> wake_;  // GUARDED_BY(mu_)
  bool shut_down_ = false;      // GUARDED_BY(mu_)
};

// Bytes of request bodies (and the responses they lead to) held in memory at once. A session
// reserves a body's Content-Length when its header arrives, before reading the body, and
// releases the reservation once the response is written; a request that does not fit is
// refused without reading its body. Lock-free: it is on every request's path.
class InflightBudget {
 public:
  explicit InflightBudget(uint64_t capacity) : capacity_(capacity) {}
  // Reserves `n` bytes if they fit under the capacity; false (nothing reserved) otherwise.
  bool TryReserve(uint64_t n);
  // Reserves `n` bytes even over the capacity: for a response that already exists and must be
  // sent. It makes later TryReserve calls fail until released.
  void ForceReserve(uint64_t n) { used_.fetch_add(n, std::memory_order_relaxed); }
  void Release(uint64_t n) { used_.fetch_sub(n, std::memory_order_relaxed); }
  uint64_t used() const { return used_.load(std::memory_order_relaxed); }
  uint64_t capacity() const { return capacity_; }

 private:
  const uint64_t capacity_;
  std::atomic<uint64_t> used_{0};
};

// Streamed responses being written (SubscribeToShard's event streams), so that Server::Stop,
// having ended every subscription, can let their last chunks reach the clients before the I/O
// threads stop. A session calls Begin when it starts writing one and End once when it is
// written or given up.
class StreamGauge {
 public:
  void Begin();
  void End();
  // Blocks until no stream is being written or `timeout` passes; true when none is.
  bool WaitNone(std::chrono::milliseconds timeout);
  size_t active() const;

 private:
  mutable std::mutex mu_;
  std::condition_variable none_;
  size_t active_ = 0;  // GUARDED_BY(mu_)
};

// Counters for /metrics (relaxed atomics: totals, no ordering with anything else).
struct LimitCounters {
  std::atomic<uint64_t> connections_accepted{0};
  std::atomic<uint64_t> connections_closed{0};
  std::atomic<uint64_t> connections_overflow{0};  // admitted into an overflow slot
  std::atomic<uint64_t> accept_errors{0};
  std::atomic<uint64_t> accept_paused{0};       // times accepting paused: every slot taken
  std::atomic<uint64_t> header_timeouts{0};     // closed: header not complete in header_timeout
  std::atomic<uint64_t> rejected_body_size{0};  // 413: body over the operation's limit
  std::atomic<uint64_t> rejected_inflight{0};   // throttled: in-flight budget spent
  std::atomic<uint64_t> rejected_overflow{0};   // 503: not a health check on an overflow slot
  // TLS (server.tls): handshakes completed, failed (bad client hello, no common protocol or
  // cipher, plain HTTP, reset) and not complete within tls.handshake_timeout_s; certificate
  // reloads that took effect and that failed (the previous certificate stays).
  std::atomic<uint64_t> tls_handshakes{0};
  std::atomic<uint64_t> tls_handshake_failures{0};
  std::atomic<uint64_t> tls_handshake_timeouts{0};
  std::atomic<uint64_t> tls_reloads{0};
  std::atomic<uint64_t> tls_reload_failures{0};
  // HTTP/2 (h2_connection.h): connections that chose it (h2c prior knowledge on the plain port,
  // ALPN h2 on the TLS port) and those closed; streams opened and closed, streams the client
  // reset, streams reset for a timeout; connections ended with GOAWAY ENHANCE_YOUR_CALM (a
  // flood, h2_flood_guard.h) and for another protocol error.
  std::atomic<uint64_t> h2_connections{0};
  std::atomic<uint64_t> h2_connections_closed{0};
  std::atomic<uint64_t> h2_streams{0};
  std::atomic<uint64_t> h2_streams_closed{0};
  std::atomic<uint64_t> h2_streams_reset{0};
  std::atomic<uint64_t> h2_stream_timeouts{0};
  std::atomic<uint64_t> h2_calm{0};
  std::atomic<uint64_t> h2_protocol_errors{0};
};

struct Limits {
  Limits(size_t max_connections, size_t overflow_connections, uint64_t max_inflight_bytes)
      : gate(max_connections, overflow_connections), budget(max_inflight_bytes) {}
  ConnectionGate gate;
  InflightBudget budget;
  StreamGauge streams;
  LimitCounters counters;
};

// Logs a warning at most once per `interval`; the next line says how many were suppressed.
// For conditions a client can trigger at a high rate (accept errors), so the log stays bounded.
class RateLimitedWarning {
 public:
  explicit RateLimitedWarning(std::chrono::steady_clock::duration interval) : interval_(interval) {}
  void Warn(const std::string& message);

 private:
  const std::chrono::steady_clock::duration interval_;
  std::mutex mu_;
  std::chrono::steady_clock::time_point last_{};  // GUARDED_BY(mu_)
  bool logged_ = false;                           // GUARDED_BY(mu_)
  uint64_t suppressed_ = 0;                       // GUARDED_BY(mu_)
};

}  // namespace tideline::server
