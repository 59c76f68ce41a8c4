#include "storage/options.h"

#include <fmt/format.h>

namespace tideline::storage {
namespace {

constexpr int64_t kMiB = int64_t{1} << 20;

Status Expected(std::string_view key, IntRange range, int64_t got) {
  return Status::InvalidArgument(
      fmt::format("{}: expected an integer in {}..{}, got {}", key, range.min, range.max, got));
}

}  // namespace

Status ValidateStoreOptions(const StoreOptions& o) {
  using O = StoreOptions;
  if (o.data_dir.empty()) return Status::InvalidArgument("data_dir: expected a directory");
  if (!O::kShardLimit.Contains(o.shard_limit)) {
    return Expected("shard_limit", O::kShardLimit, o.shard_limit);
  }
  if (o.max_group_commit_bytes == 0) {
    return Status::InvalidArgument("max_group_commit_bytes must be > 0");
  }
  const int64_t trim_ms = o.trim_interval.count();
  if (trim_ms <= 0 || trim_ms > O::kTrimIntervalSeconds.max * 1000) {
    return Status::InvalidArgument(
        fmt::format("trim_interval_s: expected at most {} s and more than 0, got {} ms",
                    O::kTrimIntervalSeconds.max, trim_ms));
  }
  const int64_t updating_ms = o.reshard_updating_delay.count();
  if (updating_ms < 0 || updating_ms > 600'000) {
    return Status::InvalidArgument(
        fmt::format("reshard_updating_delay: expected 0 up to 600000 ms, got {} ms", updating_ms));
  }
  const int64_t status_ms = o.status_delay.count();
  if (!O::kStatusDelayMs.Contains(status_ms)) {
    return Status::InvalidArgument(fmt::format("status_delay_ms: expected 0 up to {} ms, got {} ms",
                                               O::kStatusDelayMs.max, status_ms));
  }
  const auto bytes_within = [](std::string_view key, IntRange mib, uint64_t bytes,
                               bool zero_ok) -> Status {
    const bool ok = (bytes > 0 || zero_ok) && bytes <= static_cast<uint64_t>(mib.max * kMiB);
    if (ok) return Status::Ok();
    return Status::InvalidArgument(fmt::format("{}: expected {} bytes up to {} MiB, got {} bytes",
                                               key, zero_ok ? "0" : "1", mib.max, bytes));
  };
  TL_RETURN_IF_ERROR(
      bytes_within("block_cache_mib", O::kBlockCacheMib, o.block_cache_bytes, false));
  TL_RETURN_IF_ERROR(bytes_within("min_free_mib", O::kMinFreeMib, o.min_free_bytes, true));
  return bytes_within("max_queued_append_mib", O::kMaxQueuedAppendMib, o.max_queued_append_bytes,
                      false);
}

}  // namespace tideline::storage
