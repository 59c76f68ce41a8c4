// The response buffer pool: large buffers come back with their capacity as room, small ones and
// those past the pool's budget are freed, and a JsonWriter builds in a pooled buffer.
#include "buffer_pool.h"

#include <gtest/gtest.h>

#include <vector>

#include "json_util.h"

namespace tideline::server {
namespace {

void Drain() {
  while (!TakeResponseBuffer().empty()) {
  }
}

TEST(ResponseBufferPool, KeepsLargeBuffersWithTheirCapacityAsRoom) {
  Drain();
  std::string big(kMinPooledBufferBytes * 2, 'x');
  big.resize(10);  // a sent response: short contents, large capacity
  const size_t capacity = big.capacity();
  GiveResponseBuffer(std::move(big));
  std::string again = TakeResponseBuffer();
  EXPECT_EQ(again.size(), capacity);
  EXPECT_TRUE(TakeResponseBuffer().empty());
}

TEST(ResponseBufferPool, FreesSmallBuffersAndStaysWithinItsBudget) {
  Drain();
  GiveResponseBuffer(std::string(1024, 'x'));
  EXPECT_TRUE(TakeResponseBuffer().empty());
  const size_t each = 8u << 20;
  for (size_t i = 0; i < kResponseBufferPoolBytes / each + 3; ++i)
    GiveResponseBuffer(std::string(each, 'x'));
  size_t kept = 0;
  for (std::string b; !(b = TakeResponseBuffer()).empty();)
    kept += b.capacity();
  EXPECT_LE(kept, kResponseBufferPoolBytes);
  EXPECT_GE(kept, kResponseBufferPoolBytes - each - kMinPooledBufferBytes);
}

TEST(ResponseBufferPool, WriterBuildsTheSameDocumentInAReusedBuffer) {
  Drain();
  GiveResponseBuffer(std::string(kMinPooledBufferBytes, '#'));  // garbage contents
  JsonWriter w;
  w.StartObject();
  w.Key("Data");
  w.Base64String("hello");
  w.EndObject();
  EXPECT_EQ(w.Take(), R"({"Data":"aGVsbG8="})");
}

}  // namespace
}  // namespace tideline::server
