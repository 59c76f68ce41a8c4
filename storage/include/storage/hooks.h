// What a store reads from its surroundings, passed to Store::Open apart from StoreOptions so that
// tests and drills can move the clock, fake the free space and fail writes without any of it
// being part of the configuration. Production code passes none (every field at its default).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

#include "common/clock.h"
#include "common/status.h"

namespace tideline::storage {

struct StoreHooks {
  // Wall clock (NowMs: arrival times, checkpoint stamps, retention) and monotonic clock
  // (MonotonicMs: bounds the retention clock, storage/FORMAT.md "Clocks", and paces the
  // free-space check). Must outlive the store; read from any of its threads.
  // Default: nullptr (Clock::System())
  const Clock* clock = nullptr;

  // Free bytes of the data directory's file system, read in place of statvfs. Called from any
  // thread, at most as often as StoreOptions::min_free_bytes says.
  // Default: empty (statvfs)
  std::function<uint64_t()> free_bytes;

  // Consulted by the writer before each group-commit write; a non-OK Status is treated exactly
  // like a failed write of the store's medium (sticky, see Store::AppendAsync). Called on the
  // writer thread; it may block, which holds the writer.
  // Default: empty (no fault)
  std::function<Status()> write_fault;

  // Told after each successful group-commit write, before any append in it is acknowledged:
  // the number of records it carried and whether the write was synced (WriteOptions::sync,
  // the WAL fsynced before RocksDB returned). Lets tests prove that every acknowledged record
  // was synced under durability fsync, and was not under none. Called on the writer thread;
  // the in-memory store, which syncs nothing, does not call it.
  // Default: empty
  std::function<void(size_t records, bool synced)> committed;

  // For tests and drills: when > 0, every stream keeps records this long instead of its
  // retention hours, so trimming can be watched without waiting a day. Not reachable through
  // the API or the config file.
  // Default: 0 (each stream's retention)
  std::chrono::milliseconds retention_override{0};

  const Clock& clock_or_system() const { return clock != nullptr ? *clock : Clock::System(); }
};

}  // namespace tideline::storage
