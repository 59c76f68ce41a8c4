// Response buffers kept for reuse. A GetRecords answer is ~14 MB of JSON: building each in a
// fresh string costs page faults on new memory, zero-filling on every doubling and copying the
// old half, which together took about half the server's CPU in a replay. A buffer handed back
// after its response was written keeps its pages and capacity for the next one.
//
// Thread safety: all functions may be called from any thread.
#pragma once

#include <string>

namespace tideline::server {

// A buffer to build a response in: its size() is its capacity (contents unspecified), or an
// empty string when the pool has none.
std::string TakeResponseBuffer();
// Returns a buffer whose response was sent. Kept when it is large enough to matter and the pool
// holds less than kResponseBufferPoolBytes; freed otherwise.
void GiveResponseBuffer(std::string&& buffer);

// At most this much memory is kept in pooled buffers. Default: 64 MiB (four replay answers)
inline constexpr size_t kResponseBufferPoolBytes = 64u << 20;
// Smaller buffers are not worth keeping: malloc serves them from resident memory anyway.
inline constexpr size_t kMinPooledBufferBytes = 256u << 10;

}  // namespace tideline::server
