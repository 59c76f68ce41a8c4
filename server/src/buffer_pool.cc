#include "buffer_pool.h"

#include <mutex>
#include <vector>

namespace tideline::server {
namespace {

struct Pool {
  std::mutex mu;
  std::vector<std::string> buffers;  // GUARDED_BY(mu)
  size_t bytes = 0;                  // GUARDED_BY(mu)
};

Pool& GetPool() {
  static Pool* pool = new Pool();  // never destroyed: sessions may give buffers back at exit
  return *pool;
}

}  // namespace

std::string TakeResponseBuffer() {
  Pool& p = GetPool();
  std::lock_guard<std::mutex> lock(p.mu);
  if (p.buffers.empty()) return {};
  std::string b = std::move(p.buffers.back());
  p.buffers.pop_back();
  p.bytes -= b.capacity();
  return b;
}

void GiveResponseBuffer(std::string&& buffer) {
  const size_t capacity = buffer.capacity();
  if (capacity < kMinPooledBufferBytes) return;
  // Its whole capacity becomes usable room; only the tail past the old contents is written.
  buffer.resize(capacity);
  Pool& p = GetPool();
  std::lock_guard<std::mutex> lock(p.mu);
  if (p.bytes + capacity > kResponseBufferPoolBytes) return;
  p.bytes += capacity;
  p.buffers.push_back(std::move(buffer));
}

}  // namespace tideline::server
