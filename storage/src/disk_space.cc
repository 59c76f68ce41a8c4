#include "disk_space.h"

#include <sys/statvfs.h>

#include <cerrno>
#include <cstring>

namespace tideline::storage {
namespace {

constexpr uint64_t kMiB = 1u << 20;

}  // namespace

DiskSpaceGuard::DiskSpaceGuard(Options options, std::shared_ptr<spdlog::logger> log)
    : options_(std::move(options)), log_(std::move(log)) {
  if (options_.min_free_bytes == 0) return;
  std::lock_guard<std::mutex> lock(refresh_mu_);
  Refresh(options_.monotonic_ms());
}

Status DiskSpaceGuard::Check() {
  if (options_.min_free_bytes == 0) return Status::Ok();
  const int64_t now = options_.monotonic_ms();
  if (now >= next_read_ms_.load(std::memory_order_relaxed) ||
      written_since_read_.load(std::memory_order_relaxed) >= reread_after_bytes_) {
    std::unique_lock<std::mutex> lock(refresh_mu_, std::try_to_lock);
    if (lock.owns_lock()) Refresh(now);
  }
  if (!low_.load(std::memory_order_acquire)) return Status::Ok();
  return Refusal();
}

Status DiskSpaceGuard::Refusal() const {
  return Status::Unavailable(
      "Insufficient disk space: " + std::to_string(free_bytes() / kMiB) + " MiB free in " +
      options_.dir.string() + ", below storage.min_free_mib (" +
      std::to_string(options_.min_free_bytes / kMiB) + "); appends resume once space is freed");
}

void DiskSpaceGuard::Refresh(int64_t now_ms) {
  written_since_read_.store(0, std::memory_order_relaxed);
  next_read_ms_.store(now_ms + kRefreshMs, std::memory_order_relaxed);
  uint64_t free = 0;
  if (options_.free_bytes) {
    free = options_.free_bytes();
  } else {
    struct statvfs vfs {};
    if (statvfs(options_.dir.c_str(), &vfs) != 0) {
      const int err = errno;
      if (!read_failed_) {
        log_->warn(
            "cannot read the free space of {} (statvfs: {}); the min_free check is off "
            "until it can",
            options_.dir.string(), std::strerror(err));
      }
      read_failed_ = true;
      low_.store(false, std::memory_order_release);
      return;
    }
    read_failed_ = false;
    // f_bavail: what an unprivileged writer may still use; root's reserve is not counted on.
    free = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
  }
  free_bytes_.store(free, std::memory_order_relaxed);
  const bool low = free < options_.min_free_bytes;
  const bool was_low = low_.exchange(low, std::memory_order_acq_rel);
  if (low && !was_low) {
    log_->error(
        "{} MiB free in {}, below storage.min_free_mib ({}): refusing appends until "
        "space is freed (reads and checkpoints continue)",
        free / kMiB, options_.dir.string(), options_.min_free_bytes / kMiB);
  } else if (!low && was_low) {
    log_->info("{} MiB free in {} again: accepting appends", free / kMiB, options_.dir.string());
  }
}

}  // namespace tideline::storage
