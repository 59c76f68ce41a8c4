// Reused memory blocks for record batches (arena chunks and the RapidJSON pool's chunks).
//
// Every batch allocates and frees the same few 64 KiB blocks. Left to malloc, a freed batch
// often leaves the top of a heap free, glibc returns it to the OS, and the next batch faults it
// back in page by page, which costs more than parsing the records. A small shared free list
// keeps those blocks mapped. It retains at most kMaxPooledBlocks blocks (16 MiB); larger
// requests go to malloc.
//
// Thread safety: every function may be called from any thread.
#pragma once

#include <cstddef>

namespace tideline::pipeline {

inline constexpr size_t kPoolBlockBytes = 64u << 10;
inline constexpr size_t kMaxPooledBlocks = 256;

// Size bytes, from the pool when size <= kPoolBlockBytes. Never returns nullptr (aborts, like
// operator new, when memory is exhausted).
void* AllocateBlock(size_t size);
// Frees memory from AllocateBlock (nullptr is ignored).
void FreeBlock(void* block);

// A RapidJSON BaseAllocator over the pool, for MemoryPoolAllocator's chunks.
class PooledChunkAllocator {
 public:
  static const bool kNeedFree = true;
  void* Malloc(size_t size) { return size ? AllocateBlock(size) : nullptr; }
  void* Realloc(void* original, size_t original_size, size_t new_size);
  static void Free(void* ptr) { FreeBlock(ptr); }
};

}  // namespace tideline::pipeline
