#include "connection_limits.h"

#include <utility>

#include "logging.h"

namespace tideline::server {

bool ConnectionGate::WaitForRoom(std::function<void()> wake) {
  std::lock_guard<std::mutex> lock(mu_);
  if (shut_down_) return false;
  if (full_ < max_ || overflow_ < overflow_max_) return true;
  wake_ = std::move(wake);
  return false;
}

ConnectionGate::Slot ConnectionGate::Admit() {
  std::lock_guard<std::mutex> lock(mu_);
  if (full_ < max_) {
    ++full_;
    return Slot::kFull;
  }
  ++overflow_;
  return Slot::kOverflow;
}

void ConnectionGate::Release(Slot slot) {
  std::function<void()> wake;
  {
    std::lock_guard<std::mutex> lock(mu_);
    --(slot == Slot::kFull ? full_ : overflow_);
    wake = std::exchange(wake_, nullptr);
  }
  if (wake) wake();  // outside the lock: it posts to the listener, which takes the lock again
}

void StreamGauge::Begin() {
  std::lock_guard<std::mutex> lock(mu_);
  ++active_;
}

void StreamGauge::End() {
  std::lock_guard<std::mutex> lock(mu_);
  if (--active_ == 0) none_.notify_all();
}

bool StreamGauge::WaitNone(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return none_.wait_for(lock, timeout, [this] { return active_ == 0; });
}

size_t StreamGauge::active() const {
  std::lock_guard<std::mutex> lock(mu_);
  return active_;
}

void ConnectionGate::Shutdown() {
  std::lock_guard<std::mutex> lock(mu_);
  shut_down_ = true;
  wake_ = nullptr;
}

size_t ConnectionGate::open() const {
  std::lock_guard<std::mutex> lock(mu_);
  return full_ + overflow_;
}

bool InflightBudget::TryReserve(uint64_t n) {
  uint64_t used = used_.load(std::memory_order_relaxed);
  do {
    if (used + n > capacity_) return false;
  } while (!used_.compare_exchange_weak(used, used + n, std::memory_order_relaxed));
  return true;
}

void RateLimitedWarning::Warn(const std::string& message) {
  const auto now = std::chrono::steady_clock::now();
  uint64_t suppressed = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (logged_ && now - last_ < interval_) {
      ++suppressed_;
      return;
    }
    logged_ = true;
    last_ = now;
    suppressed = std::exchange(suppressed_, 0);
  }
  if (suppressed == 0) {
    Log().warn("{}", message);
  } else {
    Log().warn("{} ({} similar warnings suppressed)", message, suppressed);
  }
}

}  // namespace tideline::server
