// Server: owns the io_context and its threads, the blocking-work pool, the Api, the
// subscription hub and the listener. Lifecycle: Start binds and runs; Stop stops accepting, ends
// every subscription, drains in-flight requests (bounded wait), then stops the I/O threads and
// the pool.
#include "server/server.h"

#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include "api.h"
#include "common/clock.h"
#include "completion_poster.h"
#include "connection_limits.h"
#include "listener.h"
#include "logging.h"
#include "metrics.h"
#include "router.h"
#include "subscriptions.h"
#include "throughput_limiter.h"
#include "tls_context.h"

namespace tideline::server {
namespace {

namespace net = boost::asio;

// Threads for GetRecords, GetShardIterator and metadata calls, so RocksDB reads never hold an
// I/O thread. Two match the target machine; reads are short and bounded by 10 MiB.
constexpr int kBlockingThreads = 2;
constexpr std::chrono::seconds kDrainTimeout{10};
// How long Stop lets ended event streams write their last chunks.
constexpr std::chrono::seconds kStreamDrainTimeout{2};
// Connections beyond max_connections that may still ask for /health or /metrics.
constexpr size_t kOverflowConnections = 32;
// File descriptors kept for everything but connections: RocksDB keeps every SST file open
// (~700 after the 44 GB benchmark ingest), plus its WAL, logs and locks, backup files, the
// pipelines' HTTP connections, the io_context and the process's own files. At most half the
// limit, so that a small limit still leaves connections.
constexpr uint64_t kReservedFds = 1024;

// Raises RLIMIT_NOFILE's soft limit to the hard limit (a process may do so unprivileged) and
// returns the soft limit now in effect.
uint64_t RaiseFdLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    Log().warn("getrlimit(RLIMIT_NOFILE) failed: {}", std::strerror(errno));
    return 1024;  // the usual default soft limit
  }
  if (limit.rlim_cur < limit.rlim_max) {
    const rlim_t before = limit.rlim_cur;
    limit.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
      Log().warn("cannot raise RLIMIT_NOFILE from {} to {}: {}", before, limit.rlim_max,
                 std::strerror(errno));
      limit.rlim_cur = before;
    }
  }
  return limit.rlim_cur == RLIM_INFINITY ? uint64_t{1} << 20 : uint64_t{limit.rlim_cur};
}

// The connection limit that fits in `fd_limit`, logged.
size_t ChooseMaxConnections(size_t wanted, uint64_t fd_limit) {
  const uint64_t reserved = std::min(kReservedFds, fd_limit / 2);
  const uint64_t fit =
      fd_limit - reserved > kOverflowConnections ? fd_limit - reserved - kOverflowConnections : 1;
  if (wanted <= fit) {
    Log().info("max_connections {} (RLIMIT_NOFILE {})", wanted, fd_limit);
    return wanted;
  }
  Log().warn(
      "max_connections lowered from {} to {}: RLIMIT_NOFILE is {} and {} descriptors are kept "
      "for RocksDB files, backups and pipelines (raise the hard limit, e.g. LimitNOFILE=)",
      wanted, fit, fd_limit, reserved);
  return static_cast<size_t>(fit);
}

class ServerImpl final : public Server {
 public:
  ServerImpl(const ServerOptions& options, storage::Store& store,
             std::vector<pipeline::Pipeline*> pipelines)
      : options_(options),
        pipelines_(std::move(pipelines)),
        subscriptions_(store, SubscriptionsFor(options)),
        pool_(kBlockingThreads),
        limiter_(options.throughput_limits.enabled ? std::make_unique<ThroughputLimiter>(
                                                         options.throughput_limits, Clock::System())
                                                   : nullptr),
        api_(MakeContext(options, store, &record_ceiling_, limiter_.get(), &subscriptions_),
             metrics_, [this](std::function<void()> task) { net::post(pool_, std::move(task)); }),
        store_(store) {
    record_ceiling_.Recompute(store_);
  }

  ~ServerImpl() override { Stop(); }

  Status Start() {
    beast_error ec;
    const auto address = net::ip::make_address(options_.host, ec);
    if (ec)
      return Status::InvalidArgument(fmt::format("bad host '{}': {}", options_.host, ec.message()));
    const size_t max_connections = ChooseMaxConnections(options_.max_connections, RaiseFdLimit());
    auto limits = std::make_shared<Limits>(max_connections, kOverflowConnections,
                                           options_.max_inflight_bytes);
    if (options_.auth.mode == auth::AuthMode::kSigV4) {
      authenticator_.emplace(options_.auth, options_.account.account_id);
      Log().info("SigV4 authentication on: {} access keys, /metrics {}",
                 options_.auth.principals.size(),
                 options_.auth.metrics == auth::MetricsAccess::kOpen ? "open" : "protected");
    }
    router_.emplace(
        Router::Context{&api_,
                        &metrics_,
                        &store_,
                        &pipelines_,
                        limits.get(),
                        [this](std::function<void()> task) { net::post(pool_, std::move(task)); },
                        authenticator_ ? &*authenticator_ : nullptr,
                        {},
                        &subscriptions_});
    if (limiter_) {
      const ThroughputLimits& t = options_.throughput_limits;
      Log().info(
          "throughput limits on, per shard: {} records/s and {} bytes/s in, {} GetRecords/s and "
          "{} bytes/s out, {} GetShardIterator/s",
          t.write_records_per_sec, t.write_bytes_per_sec, t.reads_per_sec, t.read_bytes_per_sec,
          t.shard_iterators_per_sec);
    }
    std::shared_ptr<TlsContextHolder> tls;
    if (options_.tls) {
      Result<std::unique_ptr<TlsContextHolder>> loaded = TlsContextHolder::Load(*options_.tls);
      if (!loaded.ok()) return loaded.status();
      tls = std::move(loaded).value();
    }
    limits_ = limits;
    tls_ = tls;
    const SessionShared shared{&options_,         &*router_,      &completions_,
                               std::move(limits), std::move(tls), &record_ceiling_};
    listener_ = std::make_shared<Listener>(ioc_, shared);
    TL_RETURN_IF_ERROR(listener_->Bind({address, options_.port}));
    listener_->Run();
    for (int i = 0; i < options_.io_threads; ++i)
      threads_.emplace_back([this] { ioc_.run(); });
    Log().info("Kinesis API listening on {}:{} ({})", options_.host, listener_->port(),
               tls_ ? "HTTPS" : "HTTP");
    return Status::Ok();
  }

  Status ReloadTls() override {
    if (!tls_) return Status::Ok();
    const Status status = tls_->Reload();
    (status.ok() ? limits_->counters.tls_reloads : limits_->counters.tls_reload_failures)
        .fetch_add(1, std::memory_order_relaxed);
    return status;
  }

  uint16_t port() const override { return listener_ ? listener_->port() : 0; }

  void Stop() override {
    std::lock_guard<std::mutex> lock(stop_mu_);
    if (stopped_) return;
    stopped_ = true;
    if (listener_) listener_->Stop();
    // Subscriptions last minutes: they end now and new ones are refused; their sessions write
    // the end of each stream while the I/O threads still run (bounded: a client that reads
    // nothing is cut off).
    subscriptions_.Stop();
    if (limits_ && !limits_->streams.WaitNone(kStreamDrainTimeout)) {
      Log().warn("stopping with {} event streams still being written", limits_->streams.active());
    }
    if (!api_.WaitIdle(kDrainTimeout)) {
      Log().warn("stopping with requests still in flight after {} s", kDrainTimeout.count());
    }
    completions_.WaitQuiet();
    ioc_.stop();
    for (std::thread& t : threads_)
      t.join();
    threads_.clear();
    pool_.join();
    Log().info("Kinesis API stopped");
  }

 private:
  using beast_error = boost::system::error_code;

  static SubscriptionOptions SubscriptionsFor(const ServerOptions& o) {
    SubscriptionOptions s;
    s.duration = o.subscription_duration;
    // Encoded events held for subscribers, bounded like request bytes.
    s.max_buffered_bytes = o.max_inflight_bytes;
    return s;
  }

  static HandlerContext MakeContext(const ServerOptions& o, storage::Store& store,
                                    RecordSizeCeiling* record_ceiling, ThroughputLimiter* limiter,
                                    SubscriptionHub* subscriptions) {
    HandlerContext ctx;
    ctx.store = &store;
    ctx.account = o.account;
    ctx.iterator_ttl = o.iterator_ttl;
    ctx.now_ms = &WallClockMs;
    ctx.status_delay = o.status_delay;
    ctx.shard_limit = store.ShardLimit();
    ctx.record_ceiling = record_ceiling;
    ctx.limiter = limiter;
    ctx.subscriptions = subscriptions;
    return ctx;
  }

  const ServerOptions options_;
  const std::vector<pipeline::Pipeline*> pipelines_;
  // Before ioc_, so that it outlives every session (they hold its subscriptions' streams and
  // may call them until the io_context is destroyed); stopped by Stop.
  SubscriptionHub subscriptions_;
  net::io_context ioc_;
  Metrics metrics_;
  net::thread_pool pool_;
  CompletionPoster completions_;
  RecordSizeCeiling record_ceiling_;                  // before api_, whose context points to it
  const std::unique_ptr<ThroughputLimiter> limiter_;  // null unless throughput_limits.enabled
  Api api_;
  storage::Store& store_;
  std::optional<auth::Authenticator> authenticator_;  // made by Start when auth is on
  std::optional<Router> router_;                      // made by Start, with the connection limits
  std::shared_ptr<Listener> listener_;
  // Set by Start, then only read.
  std::shared_ptr<Limits> limits_;
  std::shared_ptr<TlsContextHolder> tls_;  // null without server.tls
  std::vector<std::thread> threads_;
  std::mutex stop_mu_;
  bool stopped_ = false;  // GUARDED_BY(stop_mu_)
};

}  // namespace

Result<std::unique_ptr<Server>> Server::Start(const ServerOptions& options, storage::Store& store,
                                              std::vector<pipeline::Pipeline*> pipelines) {
  TL_RETURN_IF_ERROR(ValidateServerOptions(options));
  TL_RETURN_IF_ERROR(auth::ValidateAuthOptions(options.auth));
  auto server = std::make_unique<ServerImpl>(options, store, std::move(pipelines));
  TL_RETURN_IF_ERROR(server->Start());
  return std::unique_ptr<Server>(std::move(server));
}

}  // namespace tideline::server
