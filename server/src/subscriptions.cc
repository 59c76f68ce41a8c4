#include "subscriptions.h"

#include <algorithm>

#include <fmt/format.h>

#include "common/clock.h"
#include "logging.h"

namespace tideline::server {

// One subscription: the BodyStream a session drives, and the hub's record of it. Every member
// below `hub` that is not const is GUARDED_BY(hub.mu_); a worker that set `preparing` owns the
// read of `next` until it hands its event back.
class SubscriptionHub::Subscription final : public BodyStream,
                                            public std::enable_shared_from_this<Subscription> {
 public:
  Subscription(SubscriptionHub& hub, SubscriptionRequest req, uint64_t id_in, int64_t now_ms)
      : hub_(hub),
        request(std::move(req)),
        id(id_in),
        key(request.consumer_arn + '\n' + request.shard.get()),
        registered_ms(now_ms),
        deadline_ms(now_ms + hub.options_.duration.count()),
        next(request.start) {}

  void Start(std::shared_ptr<BodySink> sink) override {
    hub_.OnStart(shared_from_this(), std::move(sink));
  }
  void Cancel() override { hub_.OnCancel(shared_from_this()); }

  enum class Phase {
    kRegistered,  // answered, its stream not started yet
    kRunning,
    kEnded,
  };

  SubscriptionHub& hub_;
  const SubscriptionRequest request;
  const uint64_t id;
  const std::string key;  // consumer ARN + shard
  const int64_t registered_ms;
  const int64_t deadline_ms;

  Phase phase = Phase::kRegistered;
  std::shared_ptr<BodySink> sink;      // set while running
  Offset next;                         // where the next event starts
  bool queued = false;                 // in ready_ or budget_waiters_
  bool preparing = false;              // a worker is reading its next event
  bool parked = false;                 // caught up: waits for its shard, heartbeat or end
  bool poked = false;                  // its shard changed since its current preparation began
  bool in_flight = false;              // an event is with the sink, `written` not yet run
  uint64_t in_flight_bytes = 0;        // charged to buffered_bytes_ until `written` (or Cancel)
  std::optional<ShardEvent> prepared;  // the next event, waiting for `written`; charged
  bool event_sent = false;             // a SubscribeToShardEvent went out
  int64_t last_event_ms = 0;
  int64_t timer_at = 0;  // its entry in timers_; 0: none
  // Ended before its stream started: the exception Start writes after the initial response.
  std::string ended_type;
  std::string ended_message;
};

namespace {

int64_t SteadyClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

SubscriptionOptions WithClocks(SubscriptionOptions o) {
  if (!o.steady_ms) o.steady_ms = &SteadyClockMs;
  if (!o.wall_ms) o.wall_ms = &WallClockMs;
  o.threads = std::max(o.threads, 1);
  return o;
}

constexpr std::string_view kNotFound = "ResourceNotFoundException";
constexpr std::string_view kInUse = "ResourceInUseException";
constexpr std::string_view kInternal = "InternalFailureException";

}  // namespace

SubscriptionHub::SubscriptionHub(const storage::Store& store, SubscriptionOptions options)
    : store_(store), options_(WithClocks(std::move(options))) {
  observer_id_ =
      store_.AddCommitObserver([this](std::span<const ShardUid> shards) { OnCommit(shards); });
  workers_.reserve(static_cast<size_t>(options_.threads));
  for (int i = 0; i < options_.threads; ++i)
    workers_.emplace_back([this] { WorkerLoop(); });
}

SubscriptionHub::~SubscriptionHub() {
  Stop();
}

std::chrono::milliseconds SubscriptionHub::TakeoverWindow() const {
  return std::min(std::chrono::milliseconds(5'000), options_.duration);
}

Result<std::shared_ptr<BodyStream>> SubscriptionHub::Subscribe(SubscriptionRequest request) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) {
    return Status::Unavailable("The server is shutting down; subscribe again once it is back.");
  }
  const int64_t now = SteadyMs();
  const std::string key = request.consumer_arn + '\n' + request.shard.get();
  SubscriptionPtr old;
  if (auto it = by_key_.find(key); it != by_key_.end()) {
    old = live_.at(it->second);
    if (now - old->registered_ms < TakeoverWindow().count()) {
      return Status::ResourceInUse(
          fmt::format("Another active subscription exists for consumer {} on shard {}; a new "
                      "one may take over {} ms after it began.",
                      request.consumer_arn, request.shard.get(), TakeoverWindow().count()));
    }
  }
  // Past a live subscription's takeover window its call is past this interval too (the window
  // is never shorter), so this refuses only fast calls after a subscription already ended.
  const int64_t interval = std::min(options_.min_call_interval, options_.duration).count();
  if (auto last = last_call_.find(key); last != last_call_.end() && now - last->second < interval) {
    return Status::LimitExceeded(
        fmt::format("Rate exceeded for consumer {} and shard {}: one SubscribeToShard call per "
                    "{} ms.",
                    request.consumer_arn, request.shard.get(), interval));
  }
  if (old) {
    End(old, kInUse,
        fmt::format("Another SubscribeToShard call for consumer {} on shard {} took over this "
                    "subscription.",
                    request.consumer_arn, request.shard.get()));
  }
  if (last_call_.size() >= 2 * live_.size() + 1024) {
    std::erase_if(last_call_, [&](const auto& entry) { return now - entry.second >= interval; });
  }
  last_call_[key] = now;
  auto sub = std::make_shared<Subscription>(*this, std::move(request), next_id_++, now);
  live_.emplace(sub->id, sub);
  by_key_[sub->key] = sub->id;
  SetTimer(sub, sub->deadline_ms);
  active_.fetch_add(1, std::memory_order_relaxed);
  return std::shared_ptr<BodyStream>(sub);
}

void SubscriptionHub::EndConsumer(const StreamName& stream, std::string_view consumer,
                                  std::string_view message) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<SubscriptionPtr> ending;
  for (const auto& [id, sub] : live_) {
    if (sub->request.stream == stream && sub->request.consumer == consumer) ending.push_back(sub);
  }
  for (const SubscriptionPtr& sub : ending)
    End(sub, kNotFound, message);
}

void SubscriptionHub::EndStream(const StreamName& stream, std::string_view message) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<SubscriptionPtr> ending;
  for (const auto& [id, sub] : live_) {
    if (sub->request.stream == stream) ending.push_back(sub);
  }
  for (const SubscriptionPtr& sub : ending)
    End(sub, kNotFound, message);
}

void SubscriptionHub::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  // Outside mu_: the observer takes mu_ on the writer thread, and removing it waits for a call
  // in progress.
  store_.RemoveCommitObserver(observer_id_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<SubscriptionPtr> ending;
    ending.reserve(live_.size());
    for (const auto& [id, sub] : live_)
      ending.push_back(sub);
    for (const SubscriptionPtr& sub : ending)
      End(sub, {}, {});
    ready_.clear();
    budget_waiters_.clear();
  }
  work_cv_.notify_all();
  for (std::thread& t : workers_)
    t.join();
  workers_.clear();
}

void SubscriptionHub::OnStart(const SubscriptionPtr& sub, std::shared_ptr<BodySink> sink) {
  std::lock_guard<std::mutex> lock(mu_);
  if (sub->phase != Subscription::Phase::kRegistered) {
    // Ended before its stream began (taken over, its consumer or stream removed, the server
    // stopping): the client still gets a well-formed stream that says so.
    sink->Write(InitialResponseEvent(sub->request.encoding), [] {});
    if (!sub->ended_type.empty()) {
      sink->Write(ExceptionEvent(sub->request.encoding, sub->ended_type, sub->ended_message),
                  [] {});
    }
    sink->End();
    return;
  }
  sub->phase = Subscription::Phase::kRunning;
  sub->sink = std::move(sink);
  by_shard_[sub->request.shard_uid.get()].push_back(sub);
  started_.fetch_add(1, std::memory_order_relaxed);
  WriteEvent(sub, InitialResponseEvent(sub->request.encoding), 0, /*counted=*/false);
  // The first SubscribeToShardEvent is read while the initial response is written.
  MakeReady(sub);
}

void SubscriptionHub::OnCancel(const SubscriptionPtr& sub) {
  std::lock_guard<std::mutex> lock(mu_);
  if (sub->phase == Subscription::Phase::kEnded) {
    // Ended, but the session could not write what was left: `written` will not run.
    Release(std::exchange(sub->in_flight_bytes, 0));
    sub->sink.reset();
    return;
  }
  End(sub, {}, {}, /*cancelled=*/true);
}

void SubscriptionHub::Deliver(const SubscriptionPtr& sub, ShardEvent event) {
  const bool at_tip = event.at_tip;
  const bool shard_end = event.shard_end;
  WriteEvent(sub, std::move(event.bytes), event.records, /*counted=*/true);
  if (shard_end) {
    End(sub, {}, {});
  } else if (!at_tip || sub->poked) {
    MakeReady(sub);
  } else {
    Park(sub);
  }
}

void SubscriptionHub::OnWritten(const SubscriptionPtr& sub, uint64_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  // The charge is what is still recorded: a Cancel that came first has released it already.
  Release(std::min(bytes, std::exchange(sub->in_flight_bytes, 0)));
  sub->in_flight = false;
  if (sub->phase != Subscription::Phase::kRunning || !sub->prepared) return;
  ShardEvent event = std::move(*sub->prepared);
  sub->prepared.reset();
  // Its bytes stay charged: from prepared they become in flight.
  Release(event.bytes.size());
  Deliver(sub, std::move(event));
}

void SubscriptionHub::OnCommit(std::span<const ShardUid> shards) {
  std::lock_guard<std::mutex> lock(mu_);
  const auto poke = [this](const SubscriptionPtr& sub) {
    if (sub->parked) {
      MakeReady(sub);
    } else {
      sub->poked = true;
    }
  };
  if (shards.empty()) {
    for (const auto& [uid, subs] : by_shard_) {
      for (const SubscriptionPtr& sub : subs)
        poke(sub);
    }
    return;
  }
  for (const ShardUid& uid : shards) {
    auto it = by_shard_.find(uid.get());
    if (it == by_shard_.end()) continue;
    for (const SubscriptionPtr& sub : it->second)
      poke(sub);
  }
}

void SubscriptionHub::WorkerLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (stopping_) return;
    FireTimers(SteadyMs());
    if (ready_.empty()) {
      if (timers_.empty()) {
        work_cv_.wait(lock);
      } else {
        const int64_t wait = timers_.begin()->first - SteadyMs();
        if (wait > 0) work_cv_.wait_for(lock, std::chrono::milliseconds(wait));
      }
      continue;
    }
    SubscriptionPtr sub = std::move(ready_.front());
    ready_.pop_front();
    sub->queued = false;
    if (sub->phase != Subscription::Phase::kRunning || sub->preparing || sub->prepared) continue;
    if (buffered_bytes_ >= options_.max_buffered_bytes) {
      // Over the budget: wait for written bytes (Release queues it again).
      sub->queued = true;
      budget_waiters_.push_back(std::move(sub));
      continue;
    }
    Prepare(lock, sub);
  }
}

void SubscriptionHub::Prepare(std::unique_lock<std::mutex>& lock, const SubscriptionPtr& sub) {
  sub->preparing = true;
  sub->poked = false;
  const Offset from = sub->next;
  const SubscriptionRequest& r = sub->request;
  lock.unlock();
  storage::ReadLimits limits;
  limits.max_records = options_.max_event_records;
  limits.max_bytes = options_.max_event_record_bytes;
  ShardEvent event = ReadEvent(store_, r.stream, r.shard, r.shard_uid, from, limits,
                               options_.wall_ms(), r.encoding);
  lock.lock();
  sub->preparing = false;
  if (sub->phase != Subscription::Phase::kRunning) return;
  if (!event.status.ok()) {
    if (event.status.code() == StatusCode::kNotFound) {
      End(sub, kNotFound, r.not_found_message);
    } else {
      Log().warn("SubscribeToShard on {} {} ends: {}", r.stream.get(), r.shard.get(),
                 event.status.ToString());
      End(sub, kInternal, "Internal service failure.");
    }
    return;
  }
  const int64_t now = SteadyMs();
  sub->next = event.next;
  const bool heartbeat_due =
      !sub->event_sent || now - sub->last_event_ms >= options_.heartbeat.count();
  if (event.records == 0 && !event.shard_end && !heartbeat_due) {
    // Caught up and an event went out recently: nothing to say yet.
    if (sub->poked) {
      MakeReady(sub);
    } else {
      Park(sub);
    }
    return;
  }
  if (sub->in_flight) {
    buffered_bytes_ += event.bytes.size();
    sub->prepared = std::move(event);  // OnWritten hands it on
    return;
  }
  Deliver(sub, std::move(event));
}

void SubscriptionHub::WriteEvent(const SubscriptionPtr& sub, std::string bytes, size_t records,
                                 bool counted) {
  const uint64_t size = bytes.size();
  buffered_bytes_ += size;
  sub->in_flight_bytes += size;
  sub->in_flight = true;
  if (counted) {
    sub->event_sent = true;
    sub->last_event_ms = SteadyMs();
    events_.fetch_add(1, std::memory_order_relaxed);
    records_.fetch_add(records, std::memory_order_relaxed);
    bytes_.fetch_add(size, std::memory_order_relaxed);
  }
  sub->sink->Write(std::move(bytes), [this, sub, size] { OnWritten(sub, size); });
}

void SubscriptionHub::MakeReady(const SubscriptionPtr& sub) {
  if (sub->phase != Subscription::Phase::kRunning || sub->queued || sub->preparing ||
      sub->prepared) {
    return;
  }
  sub->parked = false;
  sub->queued = true;
  ready_.push_back(sub);
  work_cv_.notify_one();
}

void SubscriptionHub::Park(const SubscriptionPtr& sub) {
  sub->parked = true;
  SetTimer(sub, std::min(sub->deadline_ms, sub->last_event_ms + options_.heartbeat.count()));
}

void SubscriptionHub::SetTimer(const SubscriptionPtr& sub, int64_t at_ms) {
  if (sub->timer_at != 0) timers_.erase({sub->timer_at, sub->id});
  const bool earliest = timers_.empty() || at_ms < timers_.begin()->first;
  sub->timer_at = at_ms;
  timers_.emplace(at_ms, sub->id);
  // A worker waiting for a later timer must wait less now.
  if (earliest) work_cv_.notify_one();
}

void SubscriptionHub::FireTimers(int64_t now_ms) {
  while (!timers_.empty() && timers_.begin()->first <= now_ms) {
    const uint64_t id = timers_.begin()->second;
    timers_.erase(timers_.begin());
    auto it = live_.find(id);
    if (it == live_.end()) continue;
    const SubscriptionPtr sub = it->second;
    sub->timer_at = 0;
    if (now_ms >= sub->deadline_ms) {
      End(sub, {}, {});  // its time is up: the stream ends, the client renews
    } else if (sub->parked) {
      MakeReady(sub);  // heartbeat
      SetTimer(sub, sub->deadline_ms);
    } else {
      SetTimer(sub, sub->deadline_ms);
    }
  }
}

void SubscriptionHub::End(const SubscriptionPtr& sub, std::string_view exception_type,
                          std::string_view message, bool cancelled) {
  if (sub->phase == Subscription::Phase::kEnded) return;
  const bool started = sub->phase == Subscription::Phase::kRunning;
  sub->phase = Subscription::Phase::kEnded;
  sub->parked = false;
  live_.erase(sub->id);
  if (auto it = by_key_.find(sub->key); it != by_key_.end() && it->second == sub->id) {
    by_key_.erase(it);
  }
  if (sub->timer_at != 0) timers_.erase({sub->timer_at, sub->id});
  sub->timer_at = 0;
  if (auto it = by_shard_.find(sub->request.shard_uid.get()); it != by_shard_.end()) {
    std::erase(it->second, sub);
    if (it->second.empty()) by_shard_.erase(it);
  }
  if (sub->prepared) {
    // Never written: its records were not delivered, and the client's continuation is the
    // last event it received.
    Release(sub->prepared->bytes.size());
    sub->prepared.reset();
  }
  active_.fetch_sub(1, std::memory_order_relaxed);
  if (!started) {
    sub->ended_type = std::string(exception_type);
    sub->ended_message = std::string(message);
    return;
  }
  if (cancelled) {
    Release(std::exchange(sub->in_flight_bytes, 0));
    sub->sink.reset();
    return;
  }
  if (!exception_type.empty()) {
    sub->sink->Write(ExceptionEvent(sub->request.encoding, exception_type, message), [] {});
  }
  sub->sink->End();
  sub->sink.reset();
}

void SubscriptionHub::Release(uint64_t bytes) {
  buffered_bytes_ -= std::min(bytes, buffered_bytes_);
  if (budget_waiters_.empty() || buffered_bytes_ >= options_.max_buffered_bytes) return;
  while (!budget_waiters_.empty()) {
    ready_.push_back(std::move(budget_waiters_.front()));
    budget_waiters_.pop_front();
  }
  work_cv_.notify_all();
}

void SubscriptionHub::CheckTimers() {
  std::lock_guard<std::mutex> lock(mu_);
  work_cv_.notify_all();
}

SubscriptionStats SubscriptionHub::Stats() const {
  SubscriptionStats s;
  s.started = started_.load(std::memory_order_relaxed);
  s.active = active_.load(std::memory_order_relaxed);
  s.events = events_.load(std::memory_order_relaxed);
  s.records = records_.load(std::memory_order_relaxed);
  s.bytes = bytes_.load(std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(mu_);
  s.buffered_bytes = buffered_bytes_;
  return s;
}

void SubscriptionHub::Render(PrometheusWriter& w) const {
  const SubscriptionStats s = Stats();
  w.Gauge("tideline_subscriptions_active",
          "SubscribeToShard subscriptions live now (answered and not yet ended).", s.active);
  w.Counter("tideline_subscriptions_started_total",
            "SubscribeToShard subscriptions whose event stream started.", s.started);
  w.Counter("tideline_subscription_events_total",
            "SubscribeToShardEvents pushed to subscribers (heartbeats included).", s.events);
  w.Counter("tideline_subscription_records_total", "Records pushed to subscribers.", s.records);
  w.Counter("tideline_subscription_bytes_total",
            "Encoded bytes of the SubscribeToShardEvents pushed to subscribers.", s.bytes);
  w.Gauge("tideline_subscription_buffered_bytes",
          "Encoded event bytes held for subscribers: prepared or being written.", s.buffered_bytes);
}

}  // namespace tideline::server
