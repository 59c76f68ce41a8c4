#include "storage/store.h"

#include <future>

#include "store_impl.h"

namespace tideline::storage {

Result<std::unique_ptr<Store>> Store::Open(const StoreOptions& options, const StoreHooks& hooks) {
  return StoreImpl::Open(options, hooks);
}

size_t StreamInfo::OpenShardCount() const {
  size_t n = 0;
  for (const ShardInfo& s : shards)
    n += s.closed ? 0 : 1;
  return n;
}

Result<std::vector<AppendedRecord>> Store::Append(const StreamName& stream,
                                                  std::span<const AppendRecord> records) {
  std::promise<Result<std::vector<AppendedRecord>>> promise;
  auto future = promise.get_future();
  AppendAsync(stream, records, [&promise](Result<std::vector<AppendedRecord>> result) {
    promise.set_value(std::move(result));
  });
  return future.get();
}

}  // namespace tideline::storage
