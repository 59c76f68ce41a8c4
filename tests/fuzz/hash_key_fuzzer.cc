// storage/hash_key.h: ExplicitHashKey parsing (decimal, untrusted) and the byte form.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "storage/hash_key.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tideline;
  const std::string_view in(reinterpret_cast<const char*>(data), size);

  // Accepted text is canonical decimal: it prints back the same.
  if (const auto key = ParseHashKey(in)) {
    FUZZ_CHECK(HashKeyToDecimal(*key) == in);
    FUZZ_CHECK(HashKeyFromBytes(HashKeyToBytes(*key)) == key);
  }

  // Any 16 bytes are a key whose decimal form parses back, and the byte form is exactly 16.
  if (const auto key = HashKeyFromBytes(in)) {
    FUZZ_CHECK(size == 16);
    FUZZ_CHECK(HashKeyToBytes(*key) == in);
    FUZZ_CHECK(ParseHashKey(HashKeyToDecimal(*key)) == key);
  }

  // The shard a partition key maps to exists: the even ranges cover the whole key space.
  if (size >= 1) {
    const uint32_t shards = 1 + data[0] % 64;
    const auto ranges = EvenHashKeyRanges(shards);
    FUZZ_CHECK(ranges.size() == shards && ranges.front().start == 0 &&
               ranges.back().end == kMaxHashKey);
    for (size_t i = 1; i < ranges.size(); ++i)
      FUZZ_CHECK(ranges[i].start == ranges[i - 1].end + 1);
    (void)HashKeyFromPartitionKey(in.substr(1));
  }
  return 0;
}
