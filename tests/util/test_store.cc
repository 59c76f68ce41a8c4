#include "test_util/test_store.h"

#include <chrono>

namespace tideline::testing {

TestStore::TestStore(StoreKind kind, const std::string& prefix) : kind_(kind), dir_(prefix) {
  options_.data_dir = dir_.Sub("data");
  options_.trim_interval = std::chrono::hours(24);
  options_.status_delay = std::chrono::milliseconds(0);
  hooks_.clock = &clock_;
  hooks_.free_bytes = [this] {
    ++free_bytes_reads_;
    return free_bytes_.load();
  };
}

TestStore::~TestStore() {
  Close();
}

Status TestStore::Open() {
  Close();  // a RocksDB directory is locked until the previous store is gone
  auto opened = kind_ == StoreKind::kMemory ? storage::Store::OpenInMemory(options_, hooks_)
                                            : storage::Store::Open(options_, hooks_);
  if (!opened.ok()) return opened.status();
  store_ = std::move(*opened);
  return Status::Ok();
}

}  // namespace tideline::testing
