// storage/sequence_number.h: parsing untrusted sequence numbers, and encode -> decode round
// trips of arbitrary positions.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "storage/sequence_number.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using tideline::DecodeSequenceNumber;
  using tideline::EncodeSequenceNumber;
  using tideline::SequencePosition;
  const std::string_view in(reinterpret_cast<const char*>(data), size);

  // A decoded sequence number is the one canonical spelling of its position.
  if (const auto pos = DecodeSequenceNumber(in)) {
    FUZZ_CHECK(in.size() == tideline::kSequenceNumberDigits);
    FUZZ_CHECK(EncodeSequenceNumber(*pos).get() == in);
  }

  // Any position round trips, is 40 digits without a leading zero, and string order is numeric
  // order.
  if (size >= 32) {
    SequencePosition a, b;
    std::memcpy(&a.shard_uid, data, 8);
    std::memcpy(&a.offset, data + 8, 8);
    std::memcpy(&b.shard_uid, data + 16, 8);
    std::memcpy(&b.offset, data + 24, 8);
    const std::string sa = EncodeSequenceNumber(a).get();
    const std::string sb = EncodeSequenceNumber(b).get();
    FUZZ_CHECK(sa.size() == tideline::kSequenceNumberDigits && sa[0] != '0');
    const auto back = DecodeSequenceNumber(sa);
    FUZZ_CHECK(back && *back == a);
    FUZZ_CHECK((sa < sb) == (a < b));
  }
  return 0;
}
