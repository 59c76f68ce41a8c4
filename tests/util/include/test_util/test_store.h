// A store for tests: a temporary data directory (removed at the end), options and hooks with a
// ManualClock and a settable free-space reading, and Open / Reopen / Close.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"
#include "storage/store.h"
#include "test_util/manual_clock.h"
#include "test_util/temp_dir.h"

namespace tideline::testing {

enum class StoreKind {
  kRocksDb,  // Store::Open in dir()/data
  kMemory,   // Store::OpenInMemory: Reopen starts empty
};

class TestStore {
 public:
  // Sets up options and hooks; opens nothing. Defaults that differ from production:
  // data_dir = dir()/data; trim_interval 24 h (the background trimmer must not race a test
  // that calls TrimExpired itself); status_delay 0 (streams are ACTIVE at once and gone once
  // deleted; tests of CREATING/DELETING set it); hooks().clock = &clock(); hooks().free_bytes reads
  // free_bytes() (1 TiB) instead of statvfs, counting the reads.
  explicit TestStore(StoreKind kind = StoreKind::kRocksDb,
                     const std::string& prefix = "tideline-store-test");
  ~TestStore();  // closes the store before the directory goes
  TestStore(const TestStore&) = delete;
  TestStore& operator=(const TestStore&) = delete;

  // Opens the store with options() and hooks(), closing the open one first; the same call
  // reopens a RocksDB store on its data directory.
  Status Open();
  Status Reopen() { return Open(); }
  void Close() { store_.reset(); }

  storage::Store* get() const { return store_.get(); }
  storage::Store* operator->() const { return store_.get(); }
  storage::Store& operator*() const { return *store_; }

  StoreKind kind() const { return kind_; }
  storage::StoreOptions& options() { return options_; }
  storage::StoreHooks& hooks() { return hooks_; }
  ManualClock& clock() { return clock_; }
  const TempDir& dir() const { return dir_; }
  // What hooks().free_bytes answers while it is the default one.
  std::atomic<uint64_t>& free_bytes() { return free_bytes_; }
  // How often the default hooks().free_bytes was called.
  int free_bytes_reads() const { return free_bytes_reads_.load(); }
  void reset_free_bytes_reads() { free_bytes_reads_ = 0; }

 private:
  const StoreKind kind_;
  TempDir dir_;  // declared first: outlives the store
  ManualClock clock_;
  std::atomic<uint64_t> free_bytes_{uint64_t{1} << 40};
  std::atomic<int> free_bytes_reads_{0};
  storage::StoreOptions options_;
  storage::StoreHooks hooks_;
  std::unique_ptr<storage::Store> store_;
};

}  // namespace tideline::testing
