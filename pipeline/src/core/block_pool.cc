#include "pipeline/block_pool.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <vector>

namespace tideline::pipeline {
namespace {

// Each block starts with a header saying whether it belongs to the pool; 16 bytes keep the
// caller's memory aligned for any type.
constexpr size_t kHeader = 16;
constexpr uint64_t kPooled = 0x706f6f6c65640001;  // "pooled"
constexpr uint64_t kMalloced = 0x6d616c6c6f630002;

struct Pool {
  std::mutex mu;
  std::vector<void*> free;  // GUARDED_BY(mu)
};

Pool& ThePool() {
  static Pool* pool = new Pool();  // never destroyed: blocks may be freed during exit
  return *pool;
}

void* Raw(size_t bytes) {
  void* p = std::malloc(bytes);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

}  // namespace

void* AllocateBlock(size_t size) {
  char* raw = nullptr;
  uint64_t tag = kMalloced;
  if (size <= kPoolBlockBytes) {
    tag = kPooled;
    Pool& pool = ThePool();
    {
      std::lock_guard<std::mutex> lock(pool.mu);
      if (!pool.free.empty()) {
        raw = static_cast<char*>(pool.free.back());
        pool.free.pop_back();
      }
    }
    if (raw == nullptr) raw = static_cast<char*>(Raw(kHeader + kPoolBlockBytes));
  } else {
    raw = static_cast<char*>(Raw(kHeader + size));
  }
  std::memcpy(raw, &tag, sizeof(tag));
  return raw + kHeader;
}

void FreeBlock(void* block) {
  if (block == nullptr) return;
  char* raw = static_cast<char*>(block) - kHeader;
  uint64_t tag = 0;
  std::memcpy(&tag, raw, sizeof(tag));
  if (tag == kPooled) {
    Pool& pool = ThePool();
    std::lock_guard<std::mutex> lock(pool.mu);
    if (pool.free.size() < kMaxPooledBlocks) {
      pool.free.push_back(raw);
      return;
    }
  }
  std::free(raw);
}

void* PooledChunkAllocator::Realloc(void* original, size_t original_size, size_t new_size) {
  if (new_size == 0) {
    FreeBlock(original);
    return nullptr;
  }
  void* out = AllocateBlock(new_size);
  if (original != nullptr) {
    std::memcpy(out, original, original_size < new_size ? original_size : new_size);
    FreeBlock(original);
  }
  return out;
}

}  // namespace tideline::pipeline
